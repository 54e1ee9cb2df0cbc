//! Issue 10 item 12: a terminal user cannot hold the gateway's spool by
//! declaring a large file and going quiet. The spool holds only the bytes
//! that arrived, and the core aborts the quiet transfer after
//! `--transfer-idle-timeout`.

use std::time::Duration;

use protocol::{ErrorCode, FileKind, ServerMsg};

use crate::support::*;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_quiet_sender_neither_fills_the_spool_nor_holds_its_transfer() {
    let core = TestCore::with(core_server::Config {
        file_window: protocol::DEFAULT_FILE_WINDOW,
        transfer_idle_timeout: Duration::from_millis(500),
        ..config()
    })
    .await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.spool_max_bytes = 6 * MIB as u64;
    })
    .await;
    let mut mallory = core.join("mallory").await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut b = bob.ws().await;

    // 4 MiB declared to alice, 1 KiB sent, then only pings answered.
    let big = test_bytes(4 * MIB, 31);
    mallory
        .offer(
            1,
            user("alice"),
            "big.bin",
            FileKind::File,
            big.len() as u64,
            &testkit::sha256(&big),
        )
        .await;
    mallory.chunks(1, &big[..1024]).await;
    mallory
        .until(|f| matches!(f.msg, ServerMsg::FileAccepted { id: 1, .. }).then_some(()))
        .await;

    // Meanwhile another 4 MiB file to a web user fits: the spool holds the
    // 1 KiB that arrived, not the 4 MiB declared.
    let other = test_bytes(4 * MIB, 32);
    terry
        .send_file_accepted(1, user("bob"), "other.bin", FileKind::File, &other)
        .await;
    let got = b
        .until(|m| m["type"] == "file" || m["type"] == "notice")
        .await
        .pop()
        .unwrap();
    assert_eq!(got["type"], "file", "{got}");
    assert_eq!(got["name"], "other.bin");
    assert_eq!(
        &bob.get(got["url"].as_str().unwrap()).await.body[..],
        &other[..]
    );

    // The quiet transfer is aborted: the sender hears why.
    let code = mallory
        .until(|f| match &f.msg {
            ServerMsg::FileFailed {
                id: 1,
                to: None,
                code,
                ..
            } => Some(*code),
            ServerMsg::FileDelivered { id: 1, .. } => panic!("delivered"),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::TransferIdle);
    drop(alice);
    core.stop().await;
}
