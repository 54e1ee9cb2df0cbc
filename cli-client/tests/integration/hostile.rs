//! What a hostile peer (a raw protocol client) sends: file names that try to
//! escape the download dir, corrupt or abandoned transfers, terminal control
//! sequences in text.

use protocol::{ClientMsg, FileKind, ServerMsg, Target};
use testkit::{sha256, test_bytes};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Client, assert_saved, files_in, next_line, start_core, switchboard};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_file_names_are_saved_safely_inside_the_download_dir() {
    let server = start_core().await;
    let bob = Client::join(&server, "bob").await;
    let mut bob = bob;
    let mut mallory = server.join("mallory").await;

    let cases: &[(&str, &str)] = &[
        ("../../x", "x"),
        ("a/b", "b"),
        ("..\\..\\evil.txt", "evil.txt"),
        ("..", "file"),
        (".hidden", "hidden"),
        // Sanitises to "file" too, which is taken by now.
        ("../.. .", "file (1)"),
        ("x..y", "x.y"),
        // Not control characters to the server, but they disguise names.
        ("evil\u{202E}gnp.exe", "evilgnp.exe"),
    ];
    let offer = |id: u32, name: &str, data: &[u8]| ClientMsg::FileOffer {
        id,
        to: Target::User("bob".into()),
        name: name.to_string(),
        size: data.len() as u64,
        sha256: sha256(data),
        kind: FileKind::File,
    };
    for (i, (name, safe)) in cases.iter().enumerate() {
        let data = format!("payload {i}").into_bytes();
        let id = i as u32 + 1;
        mallory.send(offer(id, name, &data)).await;
        mallory.chunks(id, &data).await;
        mallory.send(ClientMsg::FileEnd { id }).await;
        let received = bob
            .expect(|v| v["kind"] == "file_received" && v["name"] == *name)
            .await;
        let path = assert_saved(&bob, &received, &data);
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), *safe);
    }
    // Control characters in a name: the server refuses the offer outright
    // (the client would strip them too: see protocol's safe_file_name tests).
    let id = 100;
    let data = b"ansi";
    mallory
        .send(offer(id, "bell\u{7}\u{1b}[2Jwipe\n.txt", data))
        .await;
    mallory.chunks(id, data).await;
    mallory.send(ClientMsg::FileEnd { id }).await;
    mallory
        .until(|f| matches!(f.msg, ServerMsg::FileFailed { id: 100, .. }).then_some(()))
        .await;
    mallory
        .send(ClientMsg::Say {
            text: "marker".into(),
        })
        .await;
    bob.expect_message("mallory", "marker").await;
    assert!(!bob.has_seen(|v| v["name"].as_str().is_some_and(|n| n.contains("wipe"))));

    let mut expected: Vec<String> = cases.iter().map(|(_, safe)| safe.to_string()).collect();
    expected.sort();
    assert_eq!(files_in(&bob.downloads), expected);
    // Nothing escaped next to the download dir.
    assert_eq!(files_in(bob.root()), ["downloads"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_or_corrupt_transfer_leaves_nothing_behind() {
    let server = start_core().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut mallory = server.join("mallory").await;
    let offer = |id: u32, name: &str, size: u64, sha256: String| ClientMsg::FileOffer {
        id,
        to: Target::User("bob".into()),
        name: name.to_string(),
        size,
        sha256,
        kind: FileKind::File,
    };

    // The announced SHA-256 is not the bytes' one.
    let data = test_bytes(100_000, 2);
    mallory
        .send(offer(1, "corrupt.bin", data.len() as u64, sha256(b"other")))
        .await;
    mallory.chunks(1, &data).await;
    mallory.send(ClientMsg::FileEnd { id: 1 }).await;
    let failed = bob
        .expect(|v| v["kind"] == "file_failed" && v["name"] == "corrupt.bin")
        .await;
    assert_eq!(failed["from"], "mallory");
    assert!(
        files_in(&bob.downloads).is_empty(),
        "{:?}",
        files_in(&bob.downloads)
    );

    // The sender vanishes half way.
    let data = test_bytes(300_000, 3);
    mallory
        .send(offer(2, "half.bin", data.len() as u64, sha256(&data)))
        .await;
    mallory.chunks(2, &data[..100_000]).await;
    bob.expect(|v| v["kind"] == "file_incoming" && v["name"] == "half.bin")
        .await;
    drop(mallory);
    let failed = bob
        .expect(|v| v["kind"] == "file_failed" && v["name"] == "half.bin")
        .await;
    assert_eq!(failed["from"], "mallory");
    bob.expect(|v| v["kind"] == "left" && v["from"] == "mallory")
        .await;
    assert!(
        files_in(&bob.downloads).is_empty(),
        "{:?}",
        files_in(&bob.downloads)
    );
    assert!(!bob.has_seen(|v| v["kind"] == "file_received"));
}

/// What a stranger sends to spoof a reader: terminal escape sequences, C1
/// controls and DEL, and a right-to-left override that makes
/// `invoice\u{202E}gnp.exe` look like "invoiceexe.png".
const SPOOF_TEXT: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2Jhello\u{1b}[31m red\u{7} invoice\u{202E}gnp.exe \u{85}\u{9B}2J\u{7F}\u{2066}x\u{2069}";
const SPOOF_FILE: &str = "invoice\u{202E}gnp.exe";

/// Sends [`SPOOF_TEXT`] to the room and offers [`SPOOF_FILE`] to `to`.
async fn spoof(mallory: &mut testkit::RawClient, to: &str) {
    mallory
        .send(ClientMsg::Say {
            text: SPOOF_TEXT.into(),
        })
        .await;
    let data = b"not a png";
    mallory
        .send(ClientMsg::FileOffer {
            id: 1,
            to: Target::User(to.into()),
            name: SPOOF_FILE.into(),
            size: data.len() as u64,
            sha256: sha256(data),
            kind: FileKind::File,
        })
        .await;
    mallory.chunks(1, data).await;
    mallory.send(ClientMsg::FileEnd { id: 1 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_output_shows_others_control_and_bidi_characters() {
    let server = start_core().await;
    let mut raw = server.join("mallory").await;
    let downloads = tempfile::tempdir().unwrap();
    let mut cmd = switchboard();
    cmd.arg("--server")
        .arg(server.addr.to_string())
        .arg("--name")
        .arg("alice")
        .arg("--download-dir")
        .arg(downloads.path());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for alice to be in the room.
    loop {
        let line = next_line(&mut lines).await;
        if line.contains("joined the room") {
            break;
        }
    }
    spoof(&mut raw, "alice").await;
    let mut message = None;
    let mut incoming = None;
    while message.is_none() || incoming.is_none() {
        let line = next_line(&mut lines).await;
        assert!(
            !line
                .chars()
                .any(|c| c.is_control() || protocol::is_invisible_format(c)),
            "{line:?}"
        );
        if line.contains("<mallory>") {
            message = Some(line);
        } else if line.contains("is sending") {
            incoming = Some(line);
        }
    }
    let message = message.unwrap();
    assert!(
        message.ends_with(
            "<mallory> <U+001B>]0;pwned<U+0007><U+001B>[2Jhello<U+001B>[31m red<U+0007> \
             invoice<U+202E>gnp.exe <U+0085><U+009B>2J<U+007F><U+2066>x<U+2069>"
        ),
        "{message:?}"
    );
    let incoming = incoming.unwrap();
    assert!(
        incoming.contains("\"invoice<U+202E>gnp.exe\""),
        "{incoming:?}"
    );
    drop(child.stdin.take());
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_escapes_c1_del_and_bidi_characters() {
    let server = start_core().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut raw = server.join("mallory").await;
    spoof(&mut raw, "alice").await;
    alice.expect_message("mallory", SPOOF_TEXT).await;
    alice
        .expect(|v| v["kind"] == "file_incoming" && v["name"] == SPOOF_FILE)
        .await;
    let printed = alice.seen_raw.join("\n");
    assert!(
        printed.contains(
            r#""text":"\u001b]0;pwned\u0007\u001b[2Jhello\u001b[31m red\u0007 invoice\u202egnp.exe \u0085\u009b2J\u007f\u2066x\u2069""#
        ),
        "{printed}"
    );
    assert!(
        printed.contains(r#""name":"invoice\u202egnp.exe""#),
        "{printed}"
    );
    assert!(
        !printed
            .chars()
            .any(|c| c != '\n' && (c.is_control() || protocol::is_invisible_format(c))),
        "{printed:?}"
    );
}
