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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_output_strips_control_sequences_from_others() {
    let server = start_core().await;
    let mut raw = server.join("mallory").await;
    let mut cmd = switchboard();
    cmd.arg("--server")
        .arg(server.addr.to_string())
        .arg("--name")
        .arg("alice");
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
    raw.until(|f| matches!(f.msg, ServerMsg::Event(_)).then_some(()))
        .await;
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
