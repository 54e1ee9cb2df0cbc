//! Plain files: relay with identical bytes to one user or the room, bytes that
//! do not match the offer, refused offers, cancelling.

use core_server::Config;
use protocol::{ClientMsg, ErrorCode, EventBody, FileKind, ServerMsg, Target};

use crate::support::*;

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
