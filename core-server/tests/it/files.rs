//! Files and images: relay with identical bytes, image check, failures,
//! flow control, and chat overtaking a big file.

use core_server::Config;
use protocol::{ClientMsg, ErrorCode, EventBody, FileKind, ServerMsg, Target};

use crate::support::*;

/// The sender's notices about transfer `id` until `n` recipients are settled:
/// (recipient, Ok(()) for delivered or Err(code)).
async fn outcomes(
    sender: &mut RawClient,
    id: u32,
    n: usize,
) -> Vec<(String, Result<(), ErrorCode>)> {
    let mut out = Vec::new();
    while out.len() < n {
        let outcome = sender
            .until(|f| match &f.msg {
                ServerMsg::FileDelivered { id: i, to } if *i == id => Some((to.clone(), Ok(()))),
                ServerMsg::FileFailed {
                    id: i,
                    to: Some(to),
                    code,
                    ..
                } if *i == id => Some((to.clone(), Err(*code))),
                ServerMsg::FileFailed {
                    id: i,
                    to: None,
                    code,
                    ..
                } if *i == id => {
                    panic!("whole transfer failed: {code:?}")
                }
                _ => None,
            })
            .await;
        out.push(outcome);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The sender's `file_accepted` for `id`: (transfer, recipients).
async fn accepted(sender: &mut RawClient, id: u32) -> (u64, Vec<String>) {
    sender
        .until(|f| match &f.msg {
            ServerMsg::FileAccepted {
                id: i,
                transfer,
                recipients,
            } if *i == id => Some((*transfer, recipients.clone())),
            _ => None,
        })
        .await
}

/// The sender's `file_failed` without `to` for `id`.
async fn whole_failure(sender: &mut RawClient, id: u32) -> ErrorCode {
    sender
        .until(|f| match &f.msg {
            ServerMsg::FileFailed {
                id: i,
                to: None,
                code,
                ..
            } if *i == id => Some(*code),
            ServerMsg::FileDelivered { id: i, .. } if *i == id => panic!("delivered"),
            _ => None,
        })
        .await
}

async fn room_of(server: &TestCore, names: &[&str]) -> Vec<RawClient> {
    let mut clients = Vec::new();
    for name in names {
        let client = server.join(name).await;
        clients.push(client);
    }
    // Drain the join announcements so each test starts from a quiet room.
    for (i, client) in clients.iter_mut().enumerate() {
        for _ in i + 1..names.len() {
            assert!(matches!(client.event().await, EventBody::Joined { .. }));
        }
    }
    clients
}

#[tokio::test]
async fn a_file_reaches_one_user_with_identical_bytes_and_the_sender_hears_so() {
    let server = TestCore::start().await;
    let [mut alice, mut bob, mut carol] = room_of(&server, &["alice", "bob", "carol"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let bytes = test_bytes(300_000, 1);
    alice
        .send_file(1, user("bob"), "notes.bin", FileKind::File, &bytes)
        .await;

    let (event, received) = bob.receive_file().await;
    assert_eq!(sha256(&received), sha256(&bytes));
    let EventBody::File {
        from,
        to,
        name,
        size,
        sha256: sha,
        kind,
        ..
    } = event
    else {
        unreachable!()
    };
    assert_eq!(
        (from.as_str(), to, name.as_str(), size, kind),
        ("alice", user("bob"), "notes.bin", 300_000, FileKind::File)
    );
    assert_eq!(sha, sha256(&bytes));
    assert_eq!(accepted(&mut alice, 1).await.1, ["bob"]);
    assert_eq!(
        outcomes(&mut alice, 1, 1).await,
        [("bob".to_string(), Ok(()))]
    );

    // Carol saw nothing of it: her next event is this message.
    alice.say("marker").await;
    assert_eq!(carol.message().await.1, "marker");
}

#[tokio::test]
async fn a_file_to_the_room_reaches_everyone_else() {
    let server = TestCore::start().await;
    let [mut alice, mut bob, mut carol] = room_of(&server, &["alice", "bob", "carol"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let bytes = test_bytes(1_000_000, 2);
    alice
        .send_file(7, Target::Room, "video.bin", FileKind::File, &bytes)
        .await;
    for client in [&mut bob, &mut carol] {
        let (event, received) = client.receive_file().await;
        assert!(matches!(
            event,
            EventBody::File {
                to: Target::Room,
                ..
            }
        ));
        assert_eq!(sha256(&received), sha256(&bytes));
    }
    let (_, mut recipients) = accepted(&mut alice, 7).await;
    recipients.sort();
    assert_eq!(recipients, ["bob", "carol"]);
    assert_eq!(
        outcomes(&mut alice, 7, 2).await,
        [("bob".to_string(), Ok(())), ("carol".to_string(), Ok(()))]
    );
    // The sender does not get its own room-wide file.
    alice.say("marker").await;
    assert_eq!(alice.message().await.1, "marker");
}

#[tokio::test]
async fn an_image_is_relayed_and_checked_by_its_bytes() {
    let server = TestCore::start().await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let png = png_bytes(200_000);
    alice
        .send_file(1, user("bob"), "cat.jpg", FileKind::Image, &png)
        .await;
    let (event, received) = bob.receive_file().await;
    assert!(matches!(
        event,
        EventBody::File {
            kind: FileKind::Image,
            ..
        }
    ));
    assert_eq!(received, png);

    // To the whole room as well.
    let mut carol = server.join("carol").await;
    for client in [&mut alice, &mut bob] {
        client
            .until(|f| {
                matches!(&f.msg, ServerMsg::Event(e) if matches!(e.event, EventBody::Joined { .. }))
                    .then_some(())
            })
            .await;
    }
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &test_bytes(150_000, 8)].concat();
    alice
        .send_file(5, Target::Room, "photo", FileKind::Image, &jpeg)
        .await;
    for client in [&mut bob, &mut carol] {
        let (event, received) = client.receive_file().await;
        assert!(matches!(
            event,
            EventBody::File {
                kind: FileKind::Image,
                to: Target::Room,
                ..
            }
        ));
        assert_eq!(sha256(&received), sha256(&jpeg));
    }
    assert_eq!(
        outcomes(&mut alice, 5, 2)
            .await
            .iter()
            .filter(|o| o.1.is_ok())
            .count(),
        2
    );

    // Shorter than the sniffing window, but a real GIF signature.
    alice
        .send_file(2, user("bob"), "tiny.gif", FileKind::Image, b"GIF89a")
        .await;
    assert_eq!(bob.receive_file().await.1, b"GIF89a");
    assert_eq!(outcomes(&mut alice, 2, 1).await[0].1, Ok(()));
}

#[tokio::test]
async fn a_non_image_sent_as_an_image_is_refused() {
    let server = TestCore::start().await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let svg =
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".repeat(2000);
    alice
        .send_file(3, user("bob"), "cat.png", FileKind::Image, &svg)
        .await;
    assert_eq!(whole_failure(&mut alice, 3).await, ErrorCode::NotAnImage);
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    // Not one byte of it reached bob.
    assert_eq!(bob.file_bytes(transfer).await, Err(ErrorCode::NotAnImage));
    // The same bytes as a plain file are fine.
    alice
        .send_file(4, user("bob"), "cat.svg", FileKind::File, &svg)
        .await;
    assert_eq!(bob.receive_file().await.1, svg);
}

#[tokio::test]
async fn bytes_that_do_not_match_the_offer_are_never_presented_as_complete() {
    let server = TestCore::start().await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let bytes = test_bytes(100_000, 3);
    let wrong = sha256(b"something else");
    alice
        .offer(
            1,
            user("bob"),
            "a.bin",
            FileKind::File,
            bytes.len() as u64,
            &wrong,
        )
        .await;
    alice.chunks(1, &bytes).await;
    alice.send(ClientMsg::FileEnd { id: 1 }).await;
    assert_eq!(
        whole_failure(&mut alice, 1).await,
        ErrorCode::ChecksumMismatch
    );
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    assert_eq!(
        bob.file_bytes(transfer).await,
        Err(ErrorCode::ChecksumMismatch)
    );

    // More bytes than offered fails at once.
    alice
        .offer(
            2,
            user("bob"),
            "b.bin",
            FileKind::File,
            10,
            &sha256(&bytes[..10]),
        )
        .await;
    alice.chunks(2, &bytes[..20]).await;
    assert_eq!(
        whole_failure(&mut alice, 2).await,
        ErrorCode::ChecksumMismatch
    );
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
async fn refused_offers() {
    let config = Config {
        max_file: 1000,
        max_transfers: 1,
        ..config()
    };
    let server = TestCore::with(config).await;
    let [mut alice] = room_of(&server, &["alice"]).await.try_into().ok().unwrap();
    let sha = sha256(b"");
    alice
        .offer(1, user("bob"), "a", FileKind::File, 10, &sha)
        .await;
    assert_eq!(whole_failure(&mut alice, 1).await, ErrorCode::NoSuchUser);
    alice
        .offer(2, Target::Room, "a", FileKind::File, 10, &sha)
        .await;
    assert_eq!(
        whole_failure(&mut alice, 2).await,
        ErrorCode::NoSuchUser,
        "nobody else is here"
    );
    let _bob = server.join("bob").await;
    alice.event().await;
    alice
        .offer(3, user("bob"), "a", FileKind::File, 1001, &sha)
        .await;
    assert_eq!(whole_failure(&mut alice, 3).await, ErrorCode::FileTooLarge);
    // Its chunks are dropped without a reply: the next answer is the pong.
    alice.chunks(3, &[0; 100]).await;
    alice.send(ClientMsg::Ping { nonce: 1 }).await;
    assert_eq!(alice.recv_msg().await, ServerMsg::Pong { nonce: 1 });
    alice
        .offer(4, user("bob"), "a", FileKind::File, 1000, "not-hex")
        .await;
    assert_eq!(whole_failure(&mut alice, 4).await, ErrorCode::BadFrame);
    alice
        .offer(5, user("bob"), "a\nb", FileKind::File, 1000, &sha)
        .await;
    assert_eq!(whole_failure(&mut alice, 5).await, ErrorCode::BadFrame);
    alice
        .offer(6, user("bob"), "a", FileKind::File, 1000, &sha)
        .await;
    accepted(&mut alice, 6).await;
    alice
        .offer(7, user("bob"), "b", FileKind::File, 1000, &sha)
        .await;
    assert_eq!(
        whole_failure(&mut alice, 7).await,
        ErrorCode::TooManyTransfers
    );
    // A chunk for an id never offered is an error.
    alice.chunks(99, &[1]).await;
    assert_eq!(alice.error().await, ErrorCode::UnknownTransfer);
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

#[tokio::test]
async fn a_cancelled_transfer_is_aborted_for_its_recipients() {
    let server = TestCore::start().await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let bytes = test_bytes(300_000, 12);
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
    alice.chunks(1, &bytes[..100_000]).await;
    alice.send(ClientMsg::FileCancel { id: 1 }).await;
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    assert_eq!(
        bob.file_bytes(transfer).await,
        Err(ErrorCode::TransferAborted)
    );
    // The id is free again, and its late chunks were not an error.
    alice
        .send_file(1, user("bob"), "b.bin", FileKind::File, &bytes)
        .await;
    assert_eq!(bob.receive_file().await.1, bytes);
}

#[tokio::test]
async fn an_image_whose_magic_bytes_arrive_in_tiny_chunks_is_still_recognised() {
    let server = TestCore::start().await;
    let [mut alice, mut bob] = room_of(&server, &["alice", "bob"])
        .await
        .try_into()
        .ok()
        .unwrap();
    let png = png_bytes(1000);
    alice
        .offer(
            1,
            user("bob"),
            "p.png",
            FileKind::Image,
            png.len() as u64,
            &sha256(&png),
        )
        .await;
    for byte in &png[..20] {
        alice.chunks(1, std::slice::from_ref(byte)).await;
    }
    alice.chunks(1, &png[20..]).await;
    alice.send(ClientMsg::FileEnd { id: 1 }).await;
    assert_eq!(bob.receive_file().await.1, png);

    // And a non-image in tiny chunks is refused before any byte is relayed.
    let text = b"just some text, not an image".to_vec();
    alice
        .offer(
            2,
            user("bob"),
            "t.png",
            FileKind::Image,
            text.len() as u64,
            &sha256(&text),
        )
        .await;
    for byte in &text {
        alice.chunks(2, std::slice::from_ref(byte)).await;
    }
    alice.send(ClientMsg::FileEnd { id: 2 }).await;
    assert_eq!(whole_failure(&mut alice, 2).await, ErrorCode::NotAnImage);
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    assert_eq!(bob.file_bytes(transfer).await, Err(ErrorCode::NotAnImage));
}
