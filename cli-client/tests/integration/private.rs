//! Private messages: only their recipient gets them.

use crate::support::{Client, start_core};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_messages_reach_only_their_recipient() {
    let server = start_core().await;
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
