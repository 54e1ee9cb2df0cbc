//! Images: relayed like files, but checked by their magic bytes before any
//! byte reaches a recipient, however the bytes are chunked.

use protocol::{ClientMsg, ErrorCode, EventBody, FileKind, ServerMsg, Target};

use crate::support::*;

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
