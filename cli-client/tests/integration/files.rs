//! Files and images sent with `/sendfile` and `/sendimage`: delivered whole,
//! saved without overwriting, receipts to the sender, refusals.

use protocol::ServerMsg;
use testkit::{PNG, sha256, test_bytes};

use crate::support::{Client, assert_saved, files_in, start_core, write_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_to_one_user_arrives_intact_and_the_sender_waits_for_it() {
    let server = start_core().await;
    let src = tempfile::tempdir().unwrap();
    // Several chunks, not a multiple of the chunk size.
    let data = test_bytes(3 * 1024 * 1024 + 4321, 1);
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
    assert_eq!(sent["sha256"], sha256(&data));
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
    let server = start_core().await;
    let src = tempfile::tempdir().unwrap();
    let png = write_file(src.path(), "cat.png", PNG);
    let data = test_bytes(200_000, 1);
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
        for sha in [sha256(PNG), sha256(&data)] {
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
async fn a_received_file_never_overwrites_an_existing_one() {
    let server = start_core().await;
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
    let server = start_core().await;
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
async fn a_recipient_leaving_mid_transfer_fails_it_and_the_sender_still_exits_cleanly() {
    let server = start_core().await;
    let src = tempfile::tempdir().unwrap();
    // Far more than socket buffers hold, so it cannot all be delivered to a
    // recipient that stops reading.
    let data = test_bytes(24 * 1024 * 1024, 1);
    let path = write_file(src.path(), "big.bin", &data);
    let mut quitter = server.join("quitter").await;
    let mut alice = Client::join(&server, "alice").await;

    alice
        .send(&format!("/sendfile quitter {}", path.display()))
        .await;
    quitter
        .until(|f| match &f.msg {
            ServerMsg::Event(e) => {
                matches!(e.event, protocol::EventBody::File { .. }).then_some(())
            }
            _ => None,
        })
        .await;
    drop(quitter);
    let failed = alice.expect(|v| v["kind"] == "file_failed").await;
    assert_eq!(failed["to"], "quitter", "{failed:#}");
    let (status, _, stderr) = alice.finish().await;
    assert!(status.success(), "{stderr}");
}
