//! Per-transfer flow control across the gateway (issue 10 item 8): a stalled
//! recipient slows only its own transfer; the link, and every other browser
//! on it, go on.

use protocol::{DEFAULT_FILE_WINDOW, EventBody, ServerMsg};

use crate::support::*;

#[tokio::test]
async fn a_stalled_terminal_recipient_does_not_freeze_other_browsers() {
    let core = TestCore::with(core_server::Config {
        file_window: DEFAULT_FILE_WINDOW,
        ..config()
    })
    .await;
    let gw = Gateway::start(core.addr).await;
    // Terry has a 4 KiB receive buffer and, once the file starts, neither
    // reads on nor credits anything.
    let mut terry = RawClient::connect_small_buffer(core.addr).await;
    terry.hello().await;
    terry.join("terry").await.unwrap();
    terry.auto_credit = false;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut b = bob.ws().await;

    let data = test_bytes(24 * 1024 * 1024, 3);
    let upload = tokio::spawn(async move { alice.upload("terry", "big.bin", &data, true).await });
    let transfer = terry
        .until_event(|ev| match ev {
            EventBody::File { transfer, .. } => Some(*transfer),
            _ => None,
        })
        .await;
    // The core sends terry one window and then waits for his credit.
    let mut got = 0;
    while got < DEFAULT_FILE_WINDOW as usize {
        let frame = terry.recv().await;
        if frame.msg == (ServerMsg::FileChunk { transfer }) {
            got += frame.payload.len();
        }
    }
    assert_eq!(got, DEFAULT_FILE_WINDOW as usize);

    // The transfer is stalled on terry; another browser's chat still goes
    // through the same link at once.
    b.say("still talking").await;
    b.expect_text("still talking").await;
    assert!(
        !upload.is_finished(),
        "the upload should still wait for terry's credit"
    );
    // And terry, reading again, gets the whole file.
    terry.auto_credit = true;
    // The credit he owes for what he read without crediting, in one go.
    terry
        .send(protocol::ClientMsg::FileCredit {
            transfer,
            bytes: got as u64,
        })
        .await;
    terry
        .until_msg(|msg| match msg {
            ServerMsg::FileChunk { .. } => None,
            ServerMsg::FileEnd { .. } => Some(()),
            ServerMsg::FileAbort { message, .. } => panic!("aborted: {message}"),
            _ => None,
        })
        .await;
    let resp = upload.await.unwrap();
    assert_eq!(resp.json()["ok"], true, "{}", resp.text());
    core.stop().await;
}
