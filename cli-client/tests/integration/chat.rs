//! Chat in the room: messages both ways, history, limits checked before
//! sending, pacing to the server's rate limit.

use crate::support::{Client, start_core};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_messages_go_both_ways() {
    let server = start_core().await;
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
async fn history_from_before_joining_is_marked() {
    let server = start_core().await;
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
async fn limits_are_checked_before_sending() {
    let server = start_core().await;
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
    let server = start_core().await;
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
