//! Integration tests: a real core server on 127.0.0.1:0 and real
//! `switchboard` processes in scripted `--json` mode. One test binary.

mod util;

use std::path::Path;

use protocol::{ClientMsg, FileKind, ServerMsg, Target};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::ChildStdout,
};
use util::{Client, PNG, RawClient, Server, sample_bytes, sha256_hex, switchboard, write_file};

/// The names of the files in `dir`, sorted (none if it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Checks a `file_received` line: saved inside the client's download dir,
/// with exactly `data`.
fn assert_saved(client: &Client, line: &Value, data: &[u8]) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(line["path"].as_str().expect("a path"));
    assert!(path.is_absolute(), "{path:?}");
    let dir = std::fs::canonicalize(&client.downloads).unwrap();
    assert_eq!(
        std::fs::canonicalize(path.parent().unwrap()).unwrap(),
        dir,
        "saved inside the download dir"
    );
    assert_eq!(std::fs::read(&path).unwrap(), data, "identical bytes");
    assert_eq!(line["size"], data.len());
    assert_eq!(line["sha256"], sha256_hex(data));
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_messages_go_both_ways() {
    let server = Server::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    alice
        .expect(|v| v["kind"] == "joined" && v["from"] == "bob")
        .await;

    alice.send("hello bob").await;
    let line = bob.expect_message("alice", "hello bob").await;
    assert!(line["seq"].as_u64().is_some() && line["ts"].as_u64().is_some());
    alice.expect_message("alice", "hello bob").await; // the echo is the receipt

    bob.send("hi alice, with émojis 🐈").await;
    alice
        .expect_message("bob", "hi alice, with émojis 🐈")
        .await;
    bob.send("//slash text").await;
    alice.expect_message("bob", "/slash text").await;

    let (status, _, stderr) = bob.finish().await;
    assert!(status.success(), "{stderr}");
    alice
        .expect(|v| v["kind"] == "left" && v["from"] == "bob")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_reach_only_their_recipient() {
    let server = Server::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let mut carol = Client::join(&server, "carol").await;

    alice.send("/private bob the secret").await;
    alice.send("/msg bob second").await;
    alice.send("/w BOB third").await;
    // A room message after the privates: once carol has it, she would have
    // had the privates already if the server had sent them to her.
    alice.send("marker").await;
    for text in ["the secret", "second", "third"] {
        let line = bob
            .expect(|v| v["kind"] == "private" && v["text"] == text)
            .await;
        assert_eq!(
            (&line["from"], &line["to"]),
            (&"alice".into(), &"bob".into())
        );
    }
    alice
        .expect(|v| v["kind"] == "private" && v["text"] == "third")
        .await;
    carol.expect_message("alice", "marker").await;
    assert!(
        !carol.has_seen(|v| v["kind"] == "private"),
        "{:#?}",
        carol.seen
    );

    bob.send("/private alice back at you").await;
    alice
        .expect(|v| v["kind"] == "private" && v["from"] == "bob" && v["text"] == "back at you")
        .await;

    alice.send("/private nobody hello?").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "no_such_user")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_to_one_user_arrives_intact_and_the_sender_waits_for_it() {
    let server = Server::start().await;
    let src = tempfile::tempdir().unwrap();
    // Several chunks, not a multiple of the chunk size.
    let data = sample_bytes(3 * 1024 * 1024 + 4321);
    let path = write_file(src.path(), "data.bin", &data);

    let mut bob = Client::join(&server, "bob").await;
    let mut carol = Client::join(&server, "carol").await;
    let mut alice = Client::join(&server, "alice").await;
    alice
        .send(&format!("/sendfile bob {}", path.display()))
        .await;
    alice.send("after the file").await;
    // End of input right away: alice must still finish the transfer.
    let (status, rest, stderr) = alice.finish().await;
    assert!(status.success(), "{stderr}");
    let sent = rest
        .iter()
        .find(|v| v["kind"] == "file_sent")
        .unwrap_or_else(|| panic!("a file_sent line: {rest:#?}"));
    assert_eq!(
        (&sent["to"], &sent["name"]),
        (&"bob".into(), &"data.bin".into())
    );
    assert_eq!(sent["sha256"], sha256_hex(&data));
    assert_eq!(sent["path"], path.to_str().unwrap());

    let received = bob.expect(|v| v["kind"] == "file_received").await;
    assert_eq!(
        (&received["from"], &received["name"]),
        (&"alice".into(), &"data.bin".into())
    );
    assert_saved(&bob, &received, &data);
    assert_eq!(files_in(&bob.downloads), ["data.bin"]);

    carol.expect_message("alice", "after the file").await;
    assert!(!carol.has_seen(|v| v["kind"].as_str().unwrap().starts_with("file")));
    assert!(files_in(&carol.downloads).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_images_to_all_reach_everyone_else() {
    let server = Server::start().await;
    let src = tempfile::tempdir().unwrap();
    let png = write_file(src.path(), "cat.png", PNG);
    let data = sample_bytes(200_000);
    let doc = write_file(src.path(), "notes.txt", &data);

    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let mut carol = Client::join(&server, "carol").await;
    alice
        .expect(|v| v["kind"] == "joined" && v["from"] == "carol")
        .await;

    alice
        .send(&format!("/sendimage all {}", png.display()))
        .await;
    alice
        .send(&format!("/sendfile all {}", doc.display()))
        .await;
    for client in [&mut bob, &mut carol] {
        // The two transfers run concurrently: either may finish first.
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(client.expect(|v| v["kind"] == "file_received").await);
        }
        got.sort_by_key(|v| v["name"].as_str().unwrap().to_string());
        let (image, file) = (&got[0], &got[1]);
        assert_eq!(
            (&image["name"], &image["file_kind"]),
            (&"cat.png".into(), &"image".into())
        );
        assert_eq!(image["to"], "all");
        assert_saved(client, image, PNG);
        assert_eq!(
            (&file["name"], &file["file_kind"]),
            (&"notes.txt".into(), &"file".into())
        );
        assert_saved(client, file, &data);
    }
    // One receipt per file and recipient, in whatever order they finish.
    let mut receipts = Vec::new();
    for _ in 0..4 {
        let line = alice.expect(|v| v["kind"] == "file_sent").await;
        receipts.push((line["to"].to_string(), line["sha256"].to_string()));
    }
    receipts.sort();
    let mut expected = Vec::new();
    for to in ["bob", "carol"] {
        for sha in [sha256_hex(PNG), sha256_hex(&data)] {
            expected.push((format!("{to:?}"), format!("{sha:?}")));
        }
    }
    expected.sort();
    assert_eq!(receipts, expected);
    assert!(
        files_in(&alice.downloads).is_empty(),
        "the sender gets no copy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_file_names_are_saved_safely_inside_the_download_dir() {
    let server = Server::start().await;
    let bob = Client::join(&server, "bob").await;
    let mut bob = bob;
    let mut mallory = RawClient::join(server.addr, "mallory").await;

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
        sha256: sha256_hex(data),
        kind: FileKind::File,
    };
    for (i, (name, safe)) in cases.iter().enumerate() {
        let data = format!("payload {i}").into_bytes();
        let id = i as u32 + 1;
        mallory.send(offer(id, name, &data)).await;
        mallory.send_chunk(id, &data).await;
        mallory.send(ClientMsg::FileEnd { id }).await;
        let received = bob
            .expect(|v| v["kind"] == "file_received" && v["name"] == *name)
            .await;
        let path = assert_saved(&bob, &received, &data);
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), *safe);
    }
    // Control characters in a name: the server refuses the offer outright
    // (the client would strip them too: see safe_name's unit tests).
    let id = 100;
    let data = b"ansi";
    mallory
        .send(offer(id, "bell\u{7}\u{1b}[2Jwipe\n.txt", data))
        .await;
    mallory.send_chunk(id, data).await;
    mallory.send(ClientMsg::FileEnd { id }).await;
    mallory
        .expect(|m| matches!(m, ServerMsg::FileFailed { id: 100, .. }))
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
async fn a_received_file_never_overwrites_an_existing_one() {
    let server = Server::start().await;
    let src = tempfile::tempdir().unwrap();
    let path = write_file(src.path(), "report.txt", b"new report");
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    std::fs::create_dir_all(&bob.downloads).unwrap();
    write_file(&bob.downloads, "report.txt", b"old report");

    for expected in ["report (1).txt", "report (2).txt"] {
        alice
            .send(&format!("/sendfile bob {}", path.display()))
            .await;
        let received = bob.expect(|v| v["kind"] == "file_received").await;
        let saved = assert_saved(&bob, &received, b"new report");
        assert_eq!(saved.file_name().unwrap().to_str().unwrap(), expected);
    }
    assert_eq!(
        std::fs::read(bob.downloads.join("report.txt")).unwrap(),
        b"old report"
    );
    assert_eq!(
        files_in(&bob.downloads),
        ["report (1).txt", "report (2).txt", "report.txt"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_an_image_is_refused_as_one() {
    let server = Server::start().await;
    let src = tempfile::tempdir().unwrap();
    // Named like an image, but its bytes say otherwise.
    let fake = write_file(src.path(), "fake.png", b"<svg onload=alert(1)>");
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;

    alice
        .send(&format!("/sendimage bob {}", fake.display()))
        .await;
    let error = alice.expect(|v| v["kind"] == "error").await;
    assert_eq!(error["code"], "not_an_image");
    alice.send("/sendimage bob /no/such/file.png").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "unreadable")
        .await;
    alice.send("/teleport bob").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "bad_command")
        .await;
    alice.send("marker").await;
    bob.expect_message("alice", "marker").await;
    assert!(!bob.has_seen(|v| v["kind"].as_str().unwrap().starts_with("file")));
    assert!(!bob.has_seen(|v| v["text"].as_str().is_some_and(|t| t.contains("teleport"))));
    assert!(files_in(&bob.downloads).is_empty());

    // Sent as a plain file, the same bytes are fine.
    alice
        .send(&format!("/sendfile bob {}", fake.display()))
        .await;
    let received = bob.expect(|v| v["kind"] == "file_received").await;
    assert_eq!(received["file_kind"], "file");
    assert_saved(&bob, &received, b"<svg onload=alert(1)>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_a_clear_error_and_another_name_works() {
    let server = Server::start().await;
    let _alice = Client::join(&server, "alice").await;

    for taken in ["alice", "ALICE"] {
        let twin = Client::spawn(server.addr, taken, &[]).await;
        let (status, rest, stderr) = twin.finish().await;
        assert!(!status.success());
        assert!(stderr.contains("taken"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(rest.iter().any(|v| v["kind"] == "error"), "{rest:#?}");
    }
    let bad = Client::spawn(server.addr, "no spaces", &[]).await;
    let (status, _, stderr) = bad.finish().await;
    assert!(!status.success());
    assert!(stderr.contains("invalid name"), "{stderr}");

    let mut alice2 = Client::join(&server, "alice2").await;
    alice2.send("hi").await;
    alice2.expect_message("alice2", "hi").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_name_the_first_line_is_the_name() {
    let server = Server::start().await;
    let mut observer = Client::join(&server, "observer").await;
    let mut cmd = switchboard();
    cmd.arg("--server")
        .arg(server.addr.to_string())
        .arg("--json");
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"dave\n/users\nhello from dave\n")
        .await
        .unwrap();
    drop(stdin);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(util::WAIT, lines.next_line()).await {
        seen.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert!(child.wait().await.unwrap().success());
    assert_eq!(seen[0]["kind"], "info", "{seen:#?}");
    assert!(
        seen.iter()
            .any(|v| v["kind"] == "welcome" && v["name"] == "dave"),
        "{seen:#?}"
    );
    observer.expect_message("dave", "hello from dave").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_one_clear_line_and_a_failure() {
    // A port that was just free: nothing listens there. (Outside the
    // ephemeral range, so the client cannot happen to connect to itself.)
    let addr = util::bind_outside_ephemeral_range()
        .await
        .local_addr()
        .unwrap();
    for json in [false, true] {
        let mut cmd = switchboard();
        cmd.arg("--server")
            .arg(addr.to_string())
            .arg("--name")
            .arg("alice");
        if json {
            cmd.arg("--json");
        }
        let output = tokio::time::timeout(util::WAIT, cmd.output())
            .await
            .expect("exits promptly")
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot connect to"), "{stderr}");
        assert!(stderr.contains(&addr.to_string()), "{stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        if json {
            let line: Value = serde_json::from_str(stdout.trim()).unwrap();
            assert_eq!(line["kind"], "error");
        }
    }
}

async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(util::WAIT, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("output still open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_output_strips_control_sequences_from_others() {
    let server = Server::start().await;
    let mut raw = RawClient::join(server.addr, "mallory").await;
    let mut cmd = switchboard();
    cmd.arg("--server")
        .arg(server.addr.to_string())
        .arg("--name")
        .arg("alice");
    let mut child = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for alice to be in the room.
    loop {
        let line = next_line(&mut lines).await;
        if line.contains("joined the room") {
            break;
        }
    }
    raw.send(ClientMsg::Say {
        text: "\u{1b}]0;pwned\u{7}\u{1b}[2Jhello\u{1b}[31m red\u{7}".into(),
    })
    .await;
    raw.expect(|m| matches!(m, ServerMsg::Event(_))).await;
    let line = loop {
        let line = next_line(&mut lines).await;
        if line.contains("mallory") && line.contains("hello") {
            break line;
        }
    };
    assert!(line.ends_with("<mallory> hello red"), "{line:?}");
    assert!(
        !line.contains('\u{1b}') && !line.contains('\u{7}'),
        "{line:?}"
    );
    drop(child.stdin.take());
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_from_before_joining_is_marked() {
    let server = Server::start().await;
    let mut alice = Client::join(&server, "alice").await;
    alice.send("said before bob came").await;
    alice.expect_message("alice", "said before bob came").await;
    let mut bob = Client::join(&server, "bob").await;
    let line = bob
        .expect(|v| v["kind"] == "history" && v["text"] == "said before bob came")
        .await;
    assert_eq!(
        (&line["event"], &line["from"]),
        (&"message".into(), &"alice".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_reported_and_the_client_comes_back_under_its_name() {
    let server = Server::start_restartable().await;
    let addr = server.addr;
    let mut alice = Client::join(&server, "alice").await;
    server.stop().await;
    alice.expect(|v| v["kind"] == "disconnected").await;
    alice.expect(|v| v["kind"] == "reconnecting").await;
    // Same port: the client keeps dialling the address it was given.
    let server = Server::start_on(&addr.to_string()).await;
    let welcome = alice.expect(|v| v["kind"] == "welcome").await;
    assert_eq!(
        (&welcome["name"], &welcome["reconnect"]),
        (&"alice".into(), &true.into())
    );
    let mut bob = Client::join(&server, "bob").await;
    alice.send("still here").await;
    bob.expect_message("alice", "still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_or_corrupt_transfer_leaves_nothing_behind() {
    let server = Server::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut mallory = RawClient::join(server.addr, "mallory").await;
    let offer = |id: u32, name: &str, size: u64, sha256: String| ClientMsg::FileOffer {
        id,
        to: Target::User("bob".into()),
        name: name.to_string(),
        size,
        sha256,
        kind: FileKind::File,
    };

    // The announced SHA-256 is not the bytes' one.
    let data = sample_bytes(100_000);
    mallory
        .send(offer(
            1,
            "corrupt.bin",
            data.len() as u64,
            sha256_hex(b"other"),
        ))
        .await;
    mallory.send_chunk(1, &data).await;
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
    let data = sample_bytes(300_000);
    mallory
        .send(offer(2, "half.bin", data.len() as u64, sha256_hex(&data)))
        .await;
    mallory.send_chunk(2, &data[..100_000]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_leaving_mid_transfer_fails_it_and_the_sender_still_exits_cleanly() {
    let server = Server::start().await;
    let src = tempfile::tempdir().unwrap();
    // Far more than socket buffers hold, so it cannot all be delivered to a
    // recipient that stops reading.
    let data = sample_bytes(24 * 1024 * 1024);
    let path = write_file(src.path(), "big.bin", &data);
    let mut quitter = RawClient::join(server.addr, "quitter").await;
    let mut alice = Client::join(&server, "alice").await;

    alice
        .send(&format!("/sendfile quitter {}", path.display()))
        .await;
    quitter
        .expect(|m| matches!(m, ServerMsg::Event(e) if matches!(e.event, protocol::EventBody::File { .. })))
        .await;
    drop(quitter);
    let failed = alice.expect(|v| v["kind"] == "file_failed").await;
    assert_eq!(failed["to"], "quitter", "{failed:#}");
    let (status, _, stderr) = alice.finish().await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_checked_before_sending() {
    let server = Server::start().await;
    let mut alice = Client::join(&server, "alice").await;
    let mut bob = Client::join(&server, "bob").await;
    let long = "x".repeat(core_server::Config::default().max_message as usize + 1);
    alice.send(&long).await;
    let error = alice.expect(|v| v["kind"] == "error").await;
    assert_eq!(error["code"], "message_too_long");
    alice.send("/sendfile bob /").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "unreadable")
        .await;
    alice.send("/private bob").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "bad_command")
        .await;
    alice.send("marker").await;
    bob.expect_message("alice", "marker").await;
    assert!(!bob.has_seen(|v| v["text"].as_str().is_some_and(|t| t.starts_with("xxx"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_block_of_lines_is_paced_not_dropped() {
    let server = Server::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut alice = Client::join(&server, "alice").await;
    // More than the server's burst (40) at once.
    let lines: Vec<String> = (0..60).map(|i| format!("line {i}")).collect();
    alice.send(&lines.join("\n")).await;
    for line in &lines {
        bob.expect_message("alice", line).await;
    }
    let (status, rest, stderr) = alice.finish().await;
    assert!(status.success(), "{stderr}");
    assert!(!rest.iter().any(|v| v["kind"] == "error"), "{rest:#?}");
    assert!(!stderr.contains("rate"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_mode_in_a_terminal_chats_and_leaves_cleanly() {
    let server = Server::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let mut alice = util::PtyClient::join(&server, "alice").await;
    bob.expect(|v| v["kind"] == "joined" && v["from"] == "alice")
        .await;

    bob.send("hello \u{1b}]0;pwned\u{7}alice").await;
    alice.expect("<bob> hello alice").await;
    // The title-setting sequence never reached the terminal.
    assert!(!alice.raw().contains("pwned"), "{:?}", alice.raw());
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
    let data = sample_bytes(2 * 1024 * 1024);
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
    let server = Server::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let client = util::PtyClient::join_via(&server, name, wrap).await;
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
    let server = Server::start().await;
    let mut bob = Client::join(&server, "bob").await;
    let alice = util::PtyClient::join(&server, "alice").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_ending_while_disconnected_is_a_failure_for_scripts() {
    let server = Server::start().await;
    let mut alice = Client::join(&server, "alice").await;
    server.stop().await;
    alice.expect(|v| v["kind"] == "disconnected").await;
    alice.send("this cannot be delivered").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "not_connected")
        .await;
    let (status, _, stderr) = alice.finish().await;
    assert!(!status.success());
    assert!(stderr.contains("disconnected"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
