//! Files in motion: a recipient or the sender leaving mid-transfer, chat
//! overtaking a big file, and a recipient that stops reading losing only its
//! own copy (backpressure with a stall deadline).

use protocol::{ClientMsg, ErrorCode, EventBody, FileKind, ServerMsg, Target};

use crate::support::*;

/// The default window: flow control as a real server does it.
fn small_window() -> core_server::Config {
    core_server::Config {
        file_window: protocol::DEFAULT_FILE_WINDOW,
        ..config()
    }
}

#[tokio::test]
async fn the_sender_is_told_when_a_recipient_leaves_mid_transfer() {
    let server = TestCore::start().await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let bytes = test_bytes(1_000_000, 4);
    alice
        .offer(
            1,
            user("bob"),
            "big.bin",
            FileKind::File,
            bytes.len() as u64,
            &sha256(&bytes),
        )
        .await;
    alice.chunks(1, &bytes[..65536]).await;
    assert!(matches!(bob.event().await, EventBody::File { .. }));
    drop(bob);
    alice
        .until(|f| matches!(&f.msg, ServerMsg::Event(e) if e.event == EventBody::Left { name: "bob".into() }).then_some(()))
        .await;
    alice.chunks(1, &bytes[65536..]).await;
    alice.send(ClientMsg::FileEnd { id: 1 }).await;
    assert_eq!(
        outcomes(&mut alice, 1, 1).await,
        [("bob".to_string(), Err(ErrorCode::RecipientLeft))]
    );
}

#[tokio::test]
async fn recipients_are_told_when_the_sender_leaves_mid_transfer() {
    let server = TestCore::start().await;
    let [mut alice, mut bob, mut carol] = room_of(&server, &["alice", "bob", "carol"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let bytes = test_bytes(1_000_000, 5);
    alice
        .offer(
            1,
            Target::Room,
            "big.bin",
            FileKind::File,
            bytes.len() as u64,
            &sha256(&bytes),
        )
        .await;
    alice.chunks(1, &bytes[..200_000]).await;
    accepted(&mut alice, 1).await;
    drop(alice);
    for client in [&mut bob, &mut carol] {
        let EventBody::File { transfer, .. } = client.event().await else {
            panic!()
        };
        assert_eq!(
            client.file_bytes(transfer).await,
            Err(ErrorCode::TransferAborted)
        );
        assert_eq!(
            client.event().await,
            EventBody::Left {
                name: "alice".into()
            }
        );
    }
}

#[tokio::test]
async fn a_chat_message_overtakes_an_in_flight_50_mib_file() {
    let server = TestCore::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = RawClient::connect_small_buffer(server.addr).await;
    bob.hello().await;
    bob.join("bob").await.unwrap();
    let mut carol = server.join("carol").await;
    alice.event().await;
    alice.event().await;
    bob.event().await;

    const SIZE: usize = 50 * 1024 * 1024;
    let bytes = test_bytes(SIZE, 6);
    let sha = sha256(&bytes);
    let sending = tokio::spawn(async move {
        alice
            .send_file(1, user("bob"), "big.bin", FileKind::File, &bytes)
            .await;
        alice
    });

    // Bob takes the announcement and the first chunk, then stops reading: the
    // rest of the file piles up in his queue and the socket buffers.
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    let first = bob.recv().await;
    assert_eq!(first.msg, ServerMsg::FileChunk { transfer });
    let mut received = first.payload.to_vec();

    carol.say("overtaking!").await;
    assert_eq!(carol.message().await.1, "overtaking!"); // the room has it

    // When bob reads again, carol's message comes long before the file's end.
    let before = loop {
        let frame = bob.recv().await;
        match frame.msg {
            ServerMsg::FileChunk { .. } => received.extend_from_slice(&frame.payload),
            ServerMsg::Event(e) => {
                assert_eq!(
                    e.event,
                    EventBody::Message {
                        from: "carol".into(),
                        text: "overtaking!".into()
                    }
                );
                break received.len();
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        before < SIZE / 4,
        "{before} bytes of the file came before the message"
    );
    received.extend(bob.file_bytes(transfer).await.unwrap());
    assert_eq!(received.len(), SIZE);
    assert_eq!(sha256(&received), sha);
    let mut alice = sending.await.unwrap();
    assert_eq!(outcomes(&mut alice, 1, 1).await[0].1, Ok(()));
}

// Issue 10 item 8: a recipient that stops reading (and so stops crediting)
// must not make the core stop reading its sender's connection: the sender is
// held to its credit window, and its chat still goes through at once.
#[tokio::test]
async fn a_recipient_that_stops_reading_holds_the_sender_to_its_window_not_its_chat() {
    let server = TestCore::with(small_window()).await;
    let mut alice = server.join("alice").await;
    alice.auto_credit = false;
    let mut bob = RawClient::connect_small_buffer(server.addr).await;
    bob.hello().await;
    bob.join("bob").await.unwrap();
    alice.event().await;

    // Alice sends the whole 24 MiB at once, ignoring credit, the way a v1
    // client did: the core must not buffer it for bob, nor stop reading her.
    let bytes = test_bytes(24 * 1024 * 1024, 7);
    alice
        .offer(
            1,
            user("bob"),
            "big.bin",
            FileKind::File,
            bytes.len() as u64,
            &sha256(&bytes),
        )
        .await;
    let window = protocol::DEFAULT_FILE_WINDOW as usize;
    alice.chunks(1, &bytes[..window]).await;
    alice.say("still here").await;
    // The chat echo arrives while bob reads nothing.
    alice
        .until(|f| match &f.msg {
            ServerMsg::Event(e) if matches!(&e.event, EventBody::Message { text, .. } if text == "still here") => Some(()),
            ServerMsg::FileCredit { .. } => panic!("credit although bob consumed nothing"),
            _ => None,
        })
        .await;
    // Beyond the window the sender is refused, not buffered for.
    alice.chunks(1, &bytes[window..window + 65536]).await;
    assert_eq!(
        whole_failure(&mut alice, 1).await,
        ErrorCode::CreditExceeded
    );
    alice.say("and still").await;
    alice.until_message("and still").await;
    // Bob, reading at last, gets at most the window, then the abort.
    let mut got = 0;
    let code = bob
        .until(|f| match &f.msg {
            ServerMsg::FileChunk { .. } => {
                got += f.payload.len();
                None
            }
            ServerMsg::FileAbort { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::CreditExceeded);
    assert!(got <= window, "{got} bytes queued for bob");
}

// The sender's credit is what its recipient consumed: each chunk bob
// credits back lets alice send one more.
#[tokio::test]
async fn credit_follows_what_the_recipient_consumes() {
    let server = TestCore::with(small_window()).await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    alice.auto_credit = false;
    bob.auto_credit = false;
    let window = protocol::DEFAULT_FILE_WINDOW as usize;
    let bytes = test_bytes(window + 2 * 65536, 8);
    alice
        .offer(
            1,
            user("bob"),
            "a.bin",
            FileKind::File,
            bytes.len() as u64,
            &sha256(&bytes),
        )
        .await;
    alice.chunks(1, &bytes[..window]).await;
    accepted(&mut alice, 1).await;
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    for _ in 0..2 {
        let chunk = bob.recv().await;
        assert_eq!(chunk.msg, ServerMsg::FileChunk { transfer });
        bob.send(ClientMsg::FileCredit {
            transfer,
            bytes: chunk.payload.len() as u64,
        })
        .await;
        assert_eq!(
            alice.recv_msg().await,
            ServerMsg::FileCredit {
                id: 1,
                bytes: 65536
            }
        );
    }
    alice.chunks(1, &bytes[window..]).await;
    alice.send(ClientMsg::FileEnd { id: 1 }).await;
    bob.auto_credit = true;
    let mut rest = bob.file_bytes(transfer).await.unwrap();
    let mut got = bytes[..2 * 65536].to_vec();
    got.append(&mut rest);
    assert_eq!(sha256(&got), sha256(&bytes));
    assert_eq!(
        alice.recv_msg().await,
        ServerMsg::FileDelivered {
            id: 1,
            to: "bob".into()
        }
    );
}
