//! The room: broadcast, private messages, names, users, history.

use protocol::{ClientKind, ClientMsg, ErrorCode, EventBody, ServerMsg, UserInfo};

use crate::support::*;

#[tokio::test]
async fn a_room_message_reaches_everyone_with_the_sender_stamped() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    assert!(matches!(alice.event().await, EventBody::Joined { user } if user.name == "bob"));

    alice.say("hello room").await;
    assert_eq!(bob.message().await, ("alice".into(), "hello room".into()));
    // The sender gets its own message back as its receipt.
    assert_eq!(alice.message().await, ("alice".into(), "hello room".into()));
    server.stop().await;
}

#[tokio::test]
async fn events_carry_increasing_seqs_and_timestamps() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    alice.say("one").await;
    alice.say("two").await;
    let (ServerMsg::Event(a), ServerMsg::Event(b)) =
        (alice.recv_msg().await, alice.recv_msg().await)
    else {
        panic!("expected two events");
    };
    assert!(b.seq > a.seq);
    assert!(
        a.ts > 1_700_000_000_000,
        "ts is milliseconds since the epoch"
    );
}

#[tokio::test]
async fn a_private_message_is_seen_only_by_its_recipient_and_echoed_to_the_sender() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut carol = server.join("carol").await;
    alice.event().await; // bob joined
    alice.event().await; // carol joined
    bob.event().await; // carol joined

    alice.private("BOB", "psst").await;
    let expected = EventBody::Private {
        from: "alice".into(),
        to: "bob".into(),
        text: "psst".into(),
    };
    assert_eq!(bob.event().await, expected);
    assert_eq!(alice.event().await, expected);
    // Carol's next event is the next room message: she never saw the private.
    alice.say("marker").await;
    assert_eq!(carol.message().await, ("alice".into(), "marker".into()));

    alice.private("nobody", "hi").await;
    assert_eq!(alice.message().await.1, "marker");
    assert_eq!(alice.error().await, ErrorCode::NoSuchUser);
}

#[tokio::test]
async fn taken_and_invalid_names_are_refused_and_another_try_works() {
    let server = TestCore::start().await;
    let _alice = server.join("alice").await;
    let mut client = server.connect().await;
    client.hello().await;
    for (name, code) in [
        ("ALICE", ErrorCode::NameTaken),
        ("", ErrorCode::NameInvalid),
        ("no spaces", ErrorCode::NameInvalid),
        (&"x".repeat(33), ErrorCode::NameInvalid),
        ("all", ErrorCode::NameInvalid),
        ("<script>", ErrorCode::NameInvalid),
    ] {
        assert_eq!(client.join(name).await.unwrap_err(), code, "{name:?}");
    }
    let welcome = client.join("alice2").await.unwrap();
    assert_eq!(
        welcome.users,
        vec![UserInfo {
            name: "alice".into(),
            kind: ClientKind::Terminal
        }]
    );
    assert_eq!(
        client.join("again").await.unwrap_err(),
        ErrorCode::AlreadyJoined
    );
}

#[tokio::test]
async fn nothing_but_hello_join_ping_before_joining() {
    let server = TestCore::start().await;
    let mut client = server.connect().await;
    client.say("too early").await;
    assert_eq!(client.error().await, ErrorCode::NotJoined);
    client.hello().await;
    client.say("still too early").await;
    assert_eq!(client.error().await, ErrorCode::NotJoined);
    client.send(ClientMsg::Ping { nonce: 5 }).await;
    assert_eq!(client.recv_msg().await, ServerMsg::Pong { nonce: 5 });
}

#[tokio::test]
async fn joiners_get_recent_history_and_since_filters_it() {
    let config = core_server::Config {
        history: 3,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut alice = server.join("alice").await;
    for i in 1..=5 {
        alice.say(&format!("m{i}")).await;
        alice.message().await;
    }
    alice.private("alice", "not history").await;
    alice.event().await;

    let mut bob = server.connect().await;
    bob.hello().await;
    let welcome = bob.join("bob").await.unwrap();
    let texts: Vec<_> = welcome
        .history
        .iter()
        .map(|e| match &e.event {
            EventBody::Message { text, .. } => text.clone(),
            other => panic!("only room messages are history: {other:?}"),
        })
        .collect();
    assert_eq!(texts, ["m3", "m4", "m5"]);
    assert!(welcome.last_seq >= welcome.history.last().unwrap().seq);

    let since = welcome.history[1].seq;
    let mut carol = server.connect().await;
    carol.hello().await;
    let welcome = carol.join_session(0, "carol", Some(since)).await.unwrap();
    assert_eq!(welcome.history.len(), 1);
}

#[tokio::test]
async fn users_lists_everyone_and_leaving_is_announced() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.event().await;
    let names: Vec<_> = bob.users().await.into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["alice", "bob"]);

    bob.send(ClientMsg::Quit).await;
    assert_eq!(bob.closed().await, None);
    assert_eq!(alice.event().await, EventBody::Left { name: "bob".into() });
    // The name is free again.
    let _bob = server.join("Bob").await;
    drop(alice);
}

#[tokio::test]
async fn a_dropped_connection_leaves_the_room() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let bob = server.join("bob").await;
    alice.event().await;
    drop(bob);
    assert_eq!(alice.event().await, EventBody::Left { name: "bob".into() });
}

#[tokio::test]
async fn shutdown_says_bye_and_serve_returns() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let bob = server.join("bob").await;
    server.shutdown();
    assert!(matches!(alice.event().await, EventBody::Joined { .. }));
    assert_eq!(alice.closed().await, Some(ErrorCode::ShuttingDown));
    assert_eq!(bob.closed().await, Some(ErrorCode::ShuttingDown));
    server.stop().await;
}
