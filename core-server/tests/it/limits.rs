//! Every limit, each with its error code; bad input never hurts others.

use std::time::Duration;

use core_server::Config;
use futures_util::SinkExt;
use protocol::{
    ClientMsg, ErrorCode, EventBody, PROTOCOL_VERSION, ServerMsg,
    codec::{Frame, encode},
};

use crate::support::*;

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_from_its_length_alone() {
    let config = Config {
        max_frame: 70_000,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut client = server.join("alice").await;
    // Only the length prefix is sent: the server must refuse before the body
    // (which never comes) could have been read or allocated.
    client.send_raw(&70_001u32.to_be_bytes()).await;
    assert_eq!(client.closed().await, Some(ErrorCode::FrameTooLarge));

    // A frame right at the limit is fine.
    let mut bob = server.join("bob").await;
    let payload = vec![0u8; 70_000 - 8 - r#"{"type":"file_chunk","id":1}"#.len()];
    let frame = encode(0, &ClientMsg::FileChunk { id: 1 }, &payload);
    assert_eq!(frame.len(), 70_004);
    bob.send_raw(&frame.0).await;
    assert_eq!(bob.error().await, ErrorCode::UnknownTransfer);
}

#[tokio::test]
async fn message_length_is_limited_in_bytes_and_empty_messages_are_refused() {
    let config = Config {
        max_message: 100,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut alice = server.join("alice").await;
    alice.say(&"x".repeat(101)).await;
    assert_eq!(alice.error().await, ErrorCode::MessageTooLong);
    alice.say(&"é".repeat(51)).await; // 102 bytes
    assert_eq!(alice.error().await, ErrorCode::MessageTooLong);
    alice.private("alice", &"x".repeat(101)).await;
    assert_eq!(alice.error().await, ErrorCode::MessageTooLong);
    alice.say(" \n\t ").await;
    assert_eq!(alice.error().await, ErrorCode::EmptyMessage);
    alice.say(&"é".repeat(50)).await;
    assert_eq!(alice.message().await.1, "é".repeat(50));
}

#[tokio::test]
async fn a_user_sending_too_fast_is_rate_limited() {
    let config = Config {
        rate_per_sec: 1,
        rate_burst: 5,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.event().await;
    // Ten messages in one write; the bucket holds five.
    for i in 0..10 {
        alice
            .framed
            .feed(Frame::new(ClientMsg::Say {
                text: format!("m{i}"),
            }))
            .await
            .unwrap();
    }
    SinkExt::<Frame<ClientMsg>>::flush(&mut alice.framed)
        .await
        .unwrap();
    let (mut delivered, mut limited) = (0, 0);
    for _ in 0..10 {
        match alice.recv_msg().await {
            ServerMsg::Event(_) => delivered += 1,
            ServerMsg::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // One more token may have dripped in while they were processed.
    assert!((5..=6).contains(&delivered), "{delivered} delivered");
    assert_eq!(delivered + limited, 10);
    // Others are not limited by alice's bucket.
    bob.say("bob is fine").await;
    alice
        .until(|f| matches!(&f.msg, ServerMsg::Event(e) if matches!(&e.event, EventBody::Message { from, .. } if from == "bob")).then_some(()))
        .await;
}

#[tokio::test]
async fn connections_over_the_limit_are_told_the_server_is_full() {
    let config = Config {
        max_connections: 2,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut alice = server.join("alice").await;
    let bob = server.join("bob").await;
    alice.event().await; // bob joined
    let mut third = server.connect().await;
    third.send(hello()).await;
    assert_eq!(third.closed().await, Some(ErrorCode::ServerFull));

    // When one leaves, its slot is free again. The slot is released when the
    // server has finished with bob's connection, which it announces first;
    // then newcomers are accepted (try until one is, within the wait).
    drop(bob);
    assert_eq!(alice.event().await, EventBody::Left { name: "bob".into() });
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut next = server.connect().await;
        next.send(hello()).await;
        match next.recv_msg().await {
            ServerMsg::Hello { .. } => break,
            ServerMsg::Bye {
                code: ErrorCode::ServerFull,
                ..
            } => {
                assert!(tokio::time::Instant::now() < deadline, "slot never freed");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn hello() -> ClientMsg {
    ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        client: "test".into(),
        gateway_token: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_does_not_log_in_in_time_is_closed() {
    let config = Config {
        login_timeout: Duration::from_millis(200),
        ..config()
    };
    let server = TestCore::with(config).await;
    let silent = server.connect().await;
    assert_eq!(silent.closed().await, Some(ErrorCode::LoginTimeout));
    let mut no_join = server.connect().await;
    no_join.hello().await;
    assert_eq!(no_join.closed().await, Some(ErrorCode::LoginTimeout));
    // Joining in time is enough: the login timeout no longer applies.
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.event().await;
    bob.say("still here after the login timeout?").await;
    alice.message().await;
    // (bob's message went out after alice's own login timeout had passed if
    // the room is slow; either way alice is still connected.)
}

// Paused time: the clock jumps to the next timer whenever every task (client
// and server share this runtime) is idle, so the timeouts are exact and load on
// the machine cannot make a responsive client look silent.
#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_dropped_and_a_responsive_one_is_kept() {
    let config = Config {
        ping_interval: Duration::from_millis(50),
        ping_timeout: Duration::from_millis(200),
        ..config()
    };
    let server = TestCore::with(config).await;
    let silent = server.join("silent").await;
    let mut lively = server.join("lively").await;
    // The lively one answers pings for well over a ping timeout.
    let mut answered = 0;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        if let ServerMsg::Ping { nonce } = lively.recv_msg().await {
            lively.send(ClientMsg::Pong { nonce }).await;
            answered += 1;
        }
    }
    assert!(answered >= 3, "pinged {answered} times");
    assert_eq!(silent.closed().await, Some(ErrorCode::PingTimeout));
    lively.say("alive").await;
    lively
        .until(|f| {
            matches!(&f.msg, ServerMsg::Event(e) if matches!(&e.event, EventBody::Message { .. }))
                .then_some(())
        })
        .await;
}

#[tokio::test]
async fn garbage_on_one_connection_does_not_affect_others() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.event().await;

    let garbage: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // a huge length prefix
        &[0, 0, 0, 4, 1, 2, 3, 4],            // shorter than its own prefix
        &[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, b'{'], // not JSON
        &[
            0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, b'{', b'"', b't', b'y', b'p', b'e', b'"', b':',
            b'"', b'n', b'o', b'p', b'e', b'"', b'}', b' ',
        ], // unknown type
        &[0xff; 64],
    ];
    for bytes in garbage {
        let mut evil = server.connect().await;
        evil.send_raw(bytes).await;
        let bye = evil.closed().await;
        assert!(
            matches!(bye, Some(ErrorCode::BadFrame | ErrorCode::FrameTooLarge)),
            "{bytes:?}: {bye:?}"
        );
    }
    // Garbage after a proper join: the member leaves, nobody else notices.
    let mut mallory = server.join("mallory").await;
    alice.event().await;
    bob.event().await;
    mallory.send_raw(&test_bytes(10_000, 9)).await;
    mallory.closed().await;
    assert_eq!(
        alice.event().await,
        EventBody::Left {
            name: "mallory".into()
        }
    );

    alice.say("still fine").await;
    assert_eq!(
        bob.event().await,
        EventBody::Left {
            name: "mallory".into()
        }
    );
    assert_eq!(bob.message().await.1, "still fine");
}

#[tokio::test]
async fn protocol_misuse_gets_clear_errors() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    // A session id on a direct connection.
    alice
        .send_frame(Frame::new(ClientMsg::Say { text: "hi".into() }).with_session(3))
        .await;
    let frame = alice.recv().await;
    assert!(matches!(
        frame.msg,
        ServerMsg::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));
    // A second hello.
    alice.send(hello()).await;
    assert_eq!(alice.error().await, ErrorCode::AlreadyJoined);

    let mut old = server.connect().await;
    old.send(ClientMsg::Hello {
        protocol: 99,
        client: "future".into(),
        gateway_token: None,
    })
    .await;
    assert_eq!(old.closed().await, Some(ErrorCode::UnsupportedVersion));
}

// Protocol 2 made flow control mandatory: a version 1 client (which would
// send a file without waiting for credit) is told why it cannot stay.
#[tokio::test]
async fn a_protocol_1_client_is_refused_with_a_version_error() {
    let server = TestCore::start().await;
    let mut v1 = server.connect().await;
    v1.send(ClientMsg::Hello {
        protocol: 1,
        client: "switchboard-cli/0.1".into(),
        gateway_token: None,
    })
    .await;
    match v1.recv_msg().await {
        ServerMsg::Bye { code, message } => {
            assert_eq!(code, ErrorCode::UnsupportedVersion);
            assert!(message.contains("version 2"), "{message}");
        }
        other => panic!("expected bye, got {other:?}"),
    }
}

// Paused time: the drain deadline is exact, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn shutdown_does_not_wait_longer_than_the_drain_timeout_for_a_stuck_client() {
    let config = Config {
        drain_timeout: Duration::from_millis(500),
        max_message: 60_000,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut stuck = RawClient::connect_small_buffer(server.addr).await;
    stuck.hello().await;
    stuck.join("stuck").await.unwrap();
    let mut talker = server.join("talker").await;
    // Fill the socket buffers towards the stuck client (it never reads), while
    // staying well inside its queue bound, so only the drain timeout can end it.
    let text = "x".repeat(60_000);
    for _ in 0..150 {
        talker.say(&text).await;
        talker.message().await;
    }
    let started = tokio::time::Instant::now();
    server.stop().await;
    let took = started.elapsed();
    // Drain (0.5 s) plus the bounded linger; far below the 5 s default.
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
    drop(stuck);
}
