//! Issue 10 item 12: nobody holds a transfer by going quiet. A sender that
//! has credit and sends nothing for `--transfer-idle-timeout` loses the whole
//! transfer; a recipient that owes credit and grants none for that long loses
//! only its own copy, and the others go on.

use std::time::Duration;

use protocol::{ErrorCode, EventBody, FileKind, ServerMsg, Target};

use crate::support::*;

/// Short enough for a test, long enough that a loaded machine's scheduling
/// delays do not look like silence (every party here is either quiet on
/// purpose or served by the test at once).
const IDLE: Duration = Duration::from_millis(400);

fn idle_config() -> core_server::Config {
    core_server::Config {
        file_window: protocol::DEFAULT_FILE_WINDOW,
        transfer_idle_timeout: IDLE,
        ..config()
    }
}

#[tokio::test]
async fn a_sender_that_goes_quiet_is_aborted_for_every_recipient() {
    let server = TestCore::with(idle_config()).await;
    let [mut alice, mut bob, mut carol] = room_of(&server, &["alice", "bob", "carol"])
        .await
        .try_into()
        .ok()
        .unwrap();
    // 4 MiB offered, 1 KiB sent, then nothing (it would only answer pings).
    let bytes = test_bytes(4 * 1024 * 1024, 21);
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
    alice.chunks(1, &bytes[..1024]).await;
    accepted(&mut alice, 1).await;
    for client in [&mut bob, &mut carol] {
        let EventBody::File { transfer, .. } = client.event().await else {
            panic!()
        };
        assert_eq!(
            client.file_bytes(transfer).await,
            Err(ErrorCode::TransferIdle)
        );
    }
    assert_eq!(whole_failure(&mut alice, 1).await, ErrorCode::TransferIdle);
    // Its late chunks are dropped quietly, and the connection lives on.
    alice.chunks(1, &bytes[1024..2048]).await;
    alice.say("still here").await;
    alice.until_message("still here").await;
}

#[tokio::test]
async fn a_recipient_that_stops_crediting_loses_only_its_copy() {
    let server = TestCore::with(idle_config()).await;
    let [mut alice, mut bob, mut carol] = room_of(&server, &["alice", "bob", "carol"])
        .await
        .try_into()
        .ok()
        .unwrap();
    bob.auto_credit = false;
    // Several windows: alice waits on bob's credit (not idle herself) until
    // the core gives up on bob's copy, then goes on at carol's pace.
    let window = protocol::DEFAULT_FILE_WINDOW as usize;
    let bytes = test_bytes(4 * window, 22);
    let sending = tokio::spawn(async move {
        alice
            .send_file(1, Target::Room, "big.bin", FileKind::File, &bytes)
            .await;
        alice
    });
    let (_, got) = carol.receive_file().await;
    let mut alice = sending.await.unwrap();
    assert_eq!(got.len(), 4 * window);
    assert_eq!(
        outcomes(&mut alice, 1, 2).await,
        [
            ("bob".to_string(), Err(ErrorCode::TransferIdle)),
            ("carol".to_string(), Ok(())),
        ]
    );
    // Bob was sent at most a window, then told his copy is off.
    let EventBody::File { transfer, .. } = bob.event().await else {
        panic!()
    };
    let mut queued = 0;
    let code = bob
        .until(|f| match &f.msg {
            ServerMsg::FileChunk { transfer: t } if *t == transfer => {
                queued += f.payload.len();
                None
            }
            ServerMsg::FileAbort {
                transfer: t, code, ..
            } if *t == transfer => Some(*code),
            other => panic!("unexpected {other:?}"),
        })
        .await;
    assert_eq!(code, ErrorCode::TransferIdle);
    assert!(queued <= window, "{queued} bytes queued for bob");
}
