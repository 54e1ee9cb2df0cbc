//! The interactive front-end in a pseudo-terminal: chatting, completion,
//! progress, and leaving promptly when the terminal goes away or on SIGTERM.

use testkit::test_bytes;

use crate::support::{Client, PtyClient, start_core, write_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_mode_in_a_terminal_chats_and_leaves_cleanly() {
    let server = start_core().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut alice = PtyClient::join(&server, "alice").await;
    bob.expect(|v| v["kind"] == "joined" && v["from"] == "alice")
        .await;

    bob.send("hello \u{1b}]0;pwned\u{7}alice").await;
    alice
        .expect("<bob> hello <U+001B>]0;pwned<U+0007>alice")
        .await;
    // The title-setting sequence never reached the terminal as one.
    assert!(!alice.raw().contains("\u{1b}]0;pwned"), "{:?}", alice.raw());
    // Nor do C1 controls or a right-to-left override: they are shown.
    bob.send("invoice\u{202E}gnp.exe \u{9B}2J\u{85}").await;
    alice
        .expect("<bob> invoice<U+202E>gnp.exe <U+009B>2J<U+0085>")
        .await;
    let raw = alice.raw();
    assert!(!raw.contains(['\u{202E}', '\u{9B}', '\u{85}']), "{raw:?}");
    alice.type_keys("hi bob\r").await;
    bob.expect_message("alice", "hi bob").await;
    alice.type_keys("/w bob psst\r").await;
    bob.expect(|v| v["kind"] == "private" && v["text"] == "psst")
        .await;
    alice.type_keys("/nonsense\r").await;
    alice.expect("unknown command /nonsense").await;
    // Tab completes the command and the user name.
    alice.type_keys("/pri\t").await;
    alice.expect("/private").await;
    alice.type_keys("b\t").await;
    alice.expect("/private bob").await;
    alice.type_keys("completed\r").await;
    bob.expect(|v| v["kind"] == "private" && v["text"] == "completed")
        .await;

    // A file arrives with a progress bar and is saved.
    let src = tempfile::tempdir().unwrap();
    let data = test_bytes(2 * 1024 * 1024, 1);
    let path = write_file(src.path(), "big.bin", &data);
    bob.send(&format!("/sendfile alice {}", path.display()))
        .await;
    alice.expect("saved to").await;
    bob.expect(|v| v["kind"] == "file_sent" && v["to"] == "alice")
        .await;
    let saved = alice.downloads().join("big.bin");
    assert_eq!(std::fs::read(&saved).unwrap(), data);

    let status = alice.leave().await;
    assert!(status.success(), "{status:?}");
    bob.expect(|v| v["kind"] == "left" && v["from"] == "alice")
        .await;
}

/// How soon a client whose terminal went away must be gone. It takes
/// milliseconds; the margin is for a loaded CI machine. Before the fix it
/// never exited: its line editor spun on the dead terminal.
const HANGUP_EXIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts `name` in a terminal (run by `wrap`ped shell command), hangs the
/// terminal up once the room has seen it join, and checks that it leaves
/// the room and its process exits promptly.
async fn check_hangup(name: &str, wrap: impl FnOnce(String) -> String) {
    let server = start_core().await;
    let mut bob = Client::join(&server, "bob").await;
    let client = PtyClient::join_via(&server, name, wrap).await;
    bob.expect(|v| v["kind"] == "joined" && v["from"] == name)
        .await;

    let hung_up = std::time::Instant::now();
    let process = client.hang_up().await;
    assert!(
        process.exits_within(HANGUP_EXIT).await,
        "{name} still runs {HANGUP_EXIT:?} after its terminal went away"
    );
    eprintln!("{name} exited {:?} after the hangup", hung_up.elapsed());
    bob.expect(|v| v["kind"] == "left" && v["from"] == name)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_terminal_makes_the_client_leave_and_exit() {
    // The client is the terminal's session leader: the kernel sends it
    // SIGHUP, and its line editor reads end-of-file from then on.
    check_hangup("alice", |client| client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_terminal_without_sighup_still_makes_the_client_exit() {
    // The session leader is a shell that ignores SIGHUP and outlives the
    // terminal, so no signal reaches the client: only its terminal tells.
    check_hangup("carol", |client| format!("trap '' HUP; {client}; true")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_a_terminal_leaves_like_quit() {
    let server = start_core().await;
    let mut bob = Client::join(&server, "bob").await;
    let alice = PtyClient::join(&server, "alice").await;
    bob.expect(|v| v["kind"] == "joined" && v["from"] == "alice")
        .await;
    let process = alice.process();
    process.signal(rustix::process::Signal::TERM);
    let status = alice.exit_within(HANGUP_EXIT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "alice did not exit cleanly on SIGTERM: {status:?}"
    );
    bob.expect(|v| v["kind"] == "left" && v["from"] == "alice")
        .await;
}
