//! Gateway links: one authenticated connection carrying many web sessions.

use core_server::Config;
use protocol::{
    ClientKind, ClientMsg, ErrorCode, EventBody, FileKind, ServerMsg, Target, UserInfo,
    codec::Frame,
};

use crate::support::*;

/// A gateway link with sessions 1..=n joined as web1..webn, their join
/// announcements drained.
async fn link_with_sessions(server: &TestCore, n: u32) -> RawClient {
    let mut link = server.connect().await;
    let hello = link.hello_with(Some(TOKEN)).await;
    assert!(matches!(hello, ServerMsg::Hello { gateway: true, .. }));
    for s in 1..=n {
        link.join_session(s, &format!("web{s}"), None)
            .await
            .unwrap();
        if s > 1 {
            // Earlier sessions are on this link: the join crosses it once.
            let frame = link.recv().await;
            assert_eq!(frame.session, 0);
            assert!(
                matches!(frame.msg, ServerMsg::Event(e) if matches!(e.event, EventBody::Joined { .. }))
            );
        }
    }
    link
}

fn on_session(session: u32, msg: ClientMsg) -> Frame<ClientMsg> {
    Frame::new(msg).with_session(session)
}

#[tokio::test]
async fn a_wrong_or_unexpected_token_is_refused() {
    let server = TestCore::start().await;
    let mut link = server.connect().await;
    link.send(ClientMsg::Hello {
        protocol: protocol::PROTOCOL_VERSION,
        client: "gw".into(),
        gateway_token: Some("wrong".into()),
    })
    .await;
    assert_eq!(link.closed().await, Some(ErrorCode::Unauthorized));

    let no_token = TestCore::with(Config {
        gateway_token: None,
        ..config()
    })
    .await;
    let mut link = no_token.connect().await;
    link.send(ClientMsg::Hello {
        protocol: protocol::PROTOCOL_VERSION,
        client: "gw".into(),
        gateway_token: Some(TOKEN.into()),
    })
    .await;
    assert_eq!(link.closed().await, Some(ErrorCode::Unauthorized));
}

#[tokio::test]
async fn a_room_broadcast_crosses_the_link_once_for_all_its_sessions() {
    let server = TestCore::start().await;
    let mut link = link_with_sessions(&server, 3).await;
    let mut alice = server.join("alice").await;
    let joined = link.recv().await;
    assert_eq!(joined.session, 0);

    alice.say("hello everyone").await;
    alice.private("web2", "just you").await; // a marker after the broadcast
    let mut frames = Vec::new();
    loop {
        let frame = link.recv().await;
        let done = matches!(&frame.msg, ServerMsg::Event(e) if matches!(e.event, EventBody::Private { .. }));
        frames.push(frame);
        if done {
            break;
        }
    }
    assert_eq!(
        frames.len(),
        2,
        "one broadcast frame, then the private: {frames:?}"
    );
    assert_eq!(frames[0].session, 0);
    assert!(
        matches!(&frames[0].msg, ServerMsg::Event(e) if e.event == EventBody::Message { from: "alice".into(), text: "hello everyone".into() })
    );
    assert_eq!(frames[1].session, 2, "a private event names its session");
}

#[tokio::test]
async fn web_sessions_are_full_members_with_one_namespace() {
    let server = TestCore::start().await;
    let mut link = link_with_sessions(&server, 2).await;
    let mut alice = server.join("alice").await;
    link.recv().await; // alice joined

    // The user list marks web users.
    let users = alice.users().await;
    assert_eq!(
        users,
        vec![
            UserInfo {
                name: "alice".into(),
                kind: ClientKind::Terminal
            },
            UserInfo {
                name: "web1".into(),
                kind: ClientKind::Web
            },
            UserInfo {
                name: "web2".into(),
                kind: ClientKind::Web
            },
        ]
    );
    // Names are shared across terminal and web users, case-insensitively.
    assert_eq!(
        link.join_session(3, "ALICE", None).await.unwrap_err(),
        ErrorCode::NameTaken
    );
    let mut bob = server.connect().await;
    bob.hello().await;
    assert_eq!(bob.join("Web1").await.unwrap_err(), ErrorCode::NameTaken);

    // A web session speaks: the server stamps its name.
    link.send_frame(on_session(
        1,
        ClientMsg::Say {
            text: "from the web".into(),
        },
    ))
    .await;
    assert_eq!(
        alice.message().await,
        ("web1".into(), "from the web".into())
    );
    let echo = link.recv().await;
    assert_eq!(echo.session, 0);
    link.send_frame(on_session(
        2,
        ClientMsg::Private {
            to: "alice".into(),
            text: "hi alice".into(),
        },
    ))
    .await;
    assert_eq!(
        alice.event().await,
        EventBody::Private {
            from: "web2".into(),
            to: "alice".into(),
            text: "hi alice".into()
        }
    );
    assert_eq!(
        link.recv().await.session,
        2,
        "the sender's receipt names its session"
    );

    // Replies go to the asking session.
    link.send_frame(on_session(2, ClientMsg::Users)).await;
    let reply = link.recv().await;
    assert_eq!(reply.session, 2);
    assert!(matches!(reply.msg, ServerMsg::Users { users } if users.len() == 3));
    // Session 0 is the link itself.
    link.send_frame(on_session(
        0,
        ClientMsg::Say {
            text: "who am I".into(),
        },
    ))
    .await;
    assert_eq!(link.error().await, ErrorCode::BadFrame);
}

#[tokio::test]
async fn sessions_quit_one_by_one_and_all_leave_with_the_link() {
    let server = TestCore::start().await;
    let mut link = link_with_sessions(&server, 3).await;
    let mut alice = server.join("alice").await;
    link.recv().await;

    link.send_frame(on_session(2, ClientMsg::Quit)).await;
    assert_eq!(
        alice.event().await,
        EventBody::Left {
            name: "web2".into()
        }
    );
    // Its other sessions hear it once, over the link.
    let left = link.recv().await;
    assert_eq!(left.session, 0);
    assert!(
        matches!(left.msg, ServerMsg::Event(e) if e.event == EventBody::Left { name: "web2".into() })
    );
    // The link is still up, and the name is free again.
    link.join_session(4, "web2", None).await.unwrap();
    assert!(matches!(alice.event().await, EventBody::Joined { user } if user.name == "web2"));

    drop(link);
    let mut left = vec![];
    for _ in 0..3 {
        match alice.event().await {
            EventBody::Left { name } => left.push(name),
            other => panic!("unexpected {other:?}"),
        }
    }
    left.sort();
    assert_eq!(left, ["web1", "web2", "web3"]);
}

#[tokio::test]
async fn files_to_and_from_web_sessions() {
    let server = TestCore::start().await;
    let mut link = link_with_sessions(&server, 2).await;
    let mut alice = server.join("alice").await;
    link.recv().await;

    // A room-wide file crosses the link once, with session 0.
    let bytes = test_bytes(500_000, 11);
    alice
        .send_file(1, Target::Room, "room.bin", FileKind::File, &bytes)
        .await;
    let file = link.recv().await;
    assert_eq!(file.session, 0);
    let ServerMsg::Event(e) = file.msg else {
        panic!()
    };
    let EventBody::File { transfer, .. } = e.event else {
        panic!()
    };
    let mut received = Vec::new();
    loop {
        let frame = link.recv().await;
        assert_eq!(frame.session, 0);
        match frame.msg {
            ServerMsg::FileChunk { .. } => received.extend_from_slice(&frame.payload),
            ServerMsg::FileEnd { transfer: t } if t == transfer => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sha256(&received), sha256(&bytes));
    let mut delivered = vec![];
    while delivered.len() < 2 {
        if let ServerMsg::FileDelivered { to, .. } = alice.recv_msg().await {
            delivered.push(to);
        }
    }
    delivered.sort();
    assert_eq!(delivered, ["web1", "web2"], "one notice per web user");

    // A web session sends an image to the terminal user.
    let png = png_bytes(100_000);
    link.send_frame(on_session(
        2,
        ClientMsg::FileOffer {
            id: 9,
            to: Target::User("alice".into()),
            name: "pic.png".into(),
            size: png.len() as u64,
            sha256: sha256(&png),
            kind: FileKind::Image,
        },
    ))
    .await;
    for chunk in png.chunks(65536) {
        link.send_frame(
            on_session(2, ClientMsg::FileChunk { id: 9 })
                .with_payload(bytes::Bytes::copy_from_slice(chunk)),
        )
        .await;
    }
    link.send_frame(on_session(2, ClientMsg::FileEnd { id: 9 }))
        .await;
    let (event, got) = alice.receive_file().await;
    assert!(matches!(event, EventBody::File { from, kind: FileKind::Image, .. } if from == "web2"));
    assert_eq!(got, png);
    let notice = link
        .until(|f| matches!(f.msg, ServerMsg::FileDelivered { .. }).then_some(f.clone()))
        .await;
    assert_eq!(notice.session, 2);
}

#[tokio::test]
async fn a_link_may_lag_up_to_the_room_buffer_behind() {
    let config = Config {
        room_buffer: 16 << 20,
        max_message: 60_000,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut link = RawClient::connect_small_buffer(server.addr).await;
    link.hello_with(Some(TOKEN)).await;
    link.join_session(1, "web1", None).await.unwrap();
    let mut alice = server.join("alice").await;
    link.recv().await;
    // 150 frames of 60 kB (far more than the socket buffers hold) pile up for
    // the link while it does not read: less than the room buffer.
    let text = "x".repeat(60_000);
    for _ in 0..150 {
        alice.say(&text).await;
        alice.message().await;
    }
    alice.say("last").await;
    alice.message().await;
    for _ in 0..150 {
        assert!(matches!(link.recv().await.msg, ServerMsg::Event(_)));
    }
    assert!(
        matches!(link.recv().await.msg, ServerMsg::Event(e) if e.event == EventBody::Message { from: "alice".into(), text: "last".into() })
    );
}

#[tokio::test]
async fn a_web_session_sends_a_file_to_the_room() {
    let server = TestCore::start().await;
    let mut link = link_with_sessions(&server, 2).await;
    let mut alice = server.join("alice").await;
    link.recv().await;
    let bytes = test_bytes(200_000, 13);
    link.send_frame(on_session(
        1,
        ClientMsg::FileOffer {
            id: 3,
            to: Target::Room,
            name: "shared.bin".into(),
            size: bytes.len() as u64,
            sha256: sha256(&bytes),
            kind: FileKind::File,
        },
    ))
    .await;
    for chunk in bytes.chunks(65536) {
        link.send_frame(
            on_session(1, ClientMsg::FileChunk { id: 3 })
                .with_payload(bytes::Bytes::copy_from_slice(chunk)),
        )
        .await;
    }
    link.send_frame(on_session(1, ClientMsg::FileEnd { id: 3 }))
        .await;

    // The terminal user gets it.
    let (event, got) = alice.receive_file().await;
    assert!(matches!(event, EventBody::File { ref from, .. } if from == "web1"));
    assert_eq!(got, bytes);
    // The link gets one copy (session 0) for web2, and web1's notices.
    let (mut copy, mut ended, mut delivered) = (Vec::new(), false, Vec::new());
    while !(ended && delivered.len() == 2) {
        let frame = link.recv().await;
        match frame.msg {
            ServerMsg::FileAccepted { recipients, .. } => {
                let mut r = recipients;
                r.sort();
                assert_eq!(r, ["alice", "web2"]);
            }
            ServerMsg::Event(_) => assert_eq!(frame.session, 0),
            ServerMsg::FileChunk { .. } => {
                assert_eq!(frame.session, 0);
                copy.extend_from_slice(&frame.payload);
            }
            ServerMsg::FileEnd { .. } => ended = true,
            ServerMsg::FileDelivered { to, .. } => {
                assert_eq!(frame.session, 1);
                delivered.push(to);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(copy, bytes);
    delivered.sort();
    assert_eq!(delivered, ["alice", "web2"]);
}
