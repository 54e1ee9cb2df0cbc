//! What a browser may not do: flood, send garbage or oversized messages, or
//! fill the gateway's file spool.

use protocol::FileKind;

use crate::support::*;

#[tokio::test]
async fn browser_messages_are_rate_and_size_limited() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.ws_burst = 3;
        args.ws_rate = 1;
        args.ws_max_message = 1024;
    })
    .await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    for i in 0..6 {
        a.say(&format!("flood {i}")).await;
    }
    let err = a.expect("error").await;
    assert_eq!(err["code"], "rate_limited");
    // Garbage is refused with an error, not a crash.
    let mut fresh = alice.ws().await;
    fresh
        .send_raw(tokio_tungstenite::tungstenite::Message::text("{not json"))
        .await
        .unwrap();
    assert_eq!(fresh.expect("error").await["code"], "bad_request");
    // Over the size limit: the socket is closed.
    let _ = fresh
        .send_raw(tokio_tungstenite::tungstenite::Message::text(
            "x".repeat(4096),
        ))
        .await;
    fresh.closed().await;
    core.stop().await;
}

#[tokio::test]
async fn the_spool_cap_refuses_files_with_a_notice() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.spool_max_bytes = 1000).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    terry
        .send_file_accepted(
            1,
            user("alice"),
            "big.bin",
            FileKind::File,
            &test_bytes(2000, 4),
        )
        .await;
    let notice = a.expect("notice").await;
    assert!(
        notice["text"].as_str().unwrap().contains("full"),
        "{notice}"
    );
    terry
        .send_file_accepted(2, user("alice"), "small.bin", FileKind::File, b"fits")
        .await;
    assert_eq!(a.expect("file").await["name"], "small.bin");
    core.stop().await;
}
