//! Files in motion: a recipient or the sender leaving mid-transfer, chat
//! overtaking a big file, and a recipient that stops reading losing only its
//! own copy (backpressure with a stall deadline).

use core_server::Config;
use protocol::{ClientMsg, ErrorCode, EventBody, FileKind, ServerMsg, Target};

use crate::support::*;

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

// Paused time: the stall deadline passes only when everything else is idle, so
// a busy machine cannot make carol (who reads) look stalled.
#[tokio::test(start_paused = true)]
async fn a_recipient_that_stops_reading_loses_its_copy_and_the_others_still_get_theirs() {
    let config = Config {
        file_queue: 2,
        file_stall_timeout: std::time::Duration::from_millis(300),
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut alice = server.join("alice").await;
    let mut bob = RawClient::connect_small_buffer(server.addr).await;
    bob.hello().await;
    bob.join("bob").await.unwrap();
    let mut carol = server.join("carol").await;
    alice.event().await;
    alice.event().await;
    bob.event().await;

    // Larger than the kernel buffers between the server and bob.
    let bytes = test_bytes(12 * 1024 * 1024, 7);
    let sha = sha256(&bytes);
    let sending = tokio::spawn(async move {
        alice
            .send_file(1, Target::Room, "big.bin", FileKind::File, &bytes)
            .await;
        alice
    });
    let (_, received) = carol.receive_file().await;
    assert_eq!(sha256(&received), sha);
    let mut alice = sending.await.unwrap();
    assert_eq!(
        outcomes(&mut alice, 1, 2).await,
        [
            ("bob".to_string(), Err(ErrorCode::SlowConsumer)),
            ("carol".to_string(), Ok(()))
        ]
    );
    // Bob is still in the room; when he reads, his copy ends in an abort.
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    assert_eq!(bob.file_bytes(transfer).await, Err(ErrorCode::SlowConsumer));
}
