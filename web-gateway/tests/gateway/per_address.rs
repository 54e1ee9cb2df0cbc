//! Limits per person: joins per minute per address, uploads per user, and the
//! browser's address passed to the core on every join and re-attach. The
//! addresses are loopback ones (127.0.0.2, 127.0.0.3, …), so the tests turn
//! on `--limit-loopback` where the limit itself is tested.

use hyper::StatusCode;

use crate::support::*;

#[tokio::test]
async fn joins_per_minute_are_limited_per_address() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.joins_per_minute = 3;
        args.limit_loopback = true;
    })
    .await;
    for name in ["a1", "a2", "a3"] {
        gw.join_from("127.0.0.2", &[], name).await;
    }
    let refused = gw.try_join_from("127.0.0.2", &[], "a4").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.text().contains("Too many joins"),
        "{}",
        refused.text()
    );
    // Another address is not affected; nobody named a4 came.
    let b = gw.join_from("127.0.0.3", &[], "b1").await;
    let users = b.ws().await.hello;
    assert!(!users_of(&users).iter().any(|(n, _)| n == "a4"), "{users}");
    core.stop().await;
}

#[tokio::test]
async fn loopback_joins_are_not_limited_by_default() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.joins_per_minute = 1).await;
    for name in ["c1", "c2", "c3"] {
        gw.join_from("127.0.0.2", &[], name).await;
    }
    core.stop().await;
}

/// Starts an upload that sends its fields and 1 KiB, then nothing (the
/// connection stays open).
async fn stall(web: &Web) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let boundary = "stall";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nroom\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.bin\"\r\n\r\n",
        web.csrf
    );
    let mut stream = tokio::net::TcpStream::connect(web.addr).await.unwrap();
    let request = format!(
        "POST /upload HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nOrigin: {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        web.addr,
        web.cookie,
        web.origin(),
        head.len() + (1 << 20),
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&test_bytes(1024, 7)).await.unwrap();
    stream
}

#[tokio::test]
async fn one_user_may_run_only_a_few_uploads_at_once() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.max_uploads_per_user = 2).await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let _stalled = (stall(&alice).await, stall(&alice).await);
    // Once both stalled uploads are running, a third of alice's is refused.
    within("a 429 for the third upload", async {
        loop {
            let resp = alice.upload("room", "third.bin", b"third", true).await;
            if resp.status == StatusCode::TOO_MANY_REQUESTS {
                assert!(resp.json()["error"].as_str().unwrap().contains("2 uploads"));
                return;
            }
            assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
        }
    })
    .await;
    // Bob is not affected.
    let resp = bob.upload("room", "bob.bin", b"bob", true).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    core.stop().await;
}

#[tokio::test]
async fn the_core_is_told_each_browsers_address_on_join_and_re_attach() {
    let core = TestCore::start().await;
    let mut tap = Tap::start(core.addr).await;
    let gw = Gateway::start_with(tap.addr, |args| {
        args.trusted_proxy = Some("127.0.0.4".parse().unwrap());
    })
    .await;
    gw.join_from("127.0.0.2", &[], "alice").await;
    assert_eq!(
        tap.join().await,
        ("alice".into(), None, Some("127.0.0.2".into()))
    );
    // X-Forwarded-For counts only from the trusted proxy.
    let forwarded = [("x-forwarded-for", "203.0.113.5, 198.51.100.7")];
    gw.join_from("127.0.0.3", &forwarded, "bob").await;
    assert_eq!(tap.join().await.2.as_deref(), Some("127.0.0.3"));
    gw.join_from("127.0.0.4", &forwarded, "carol").await;
    assert_eq!(tap.join().await.2.as_deref(), Some("198.51.100.7"));

    // The link drops: each session re-attaches with its own address.
    tap.cut();
    let mut rejoined = Vec::new();
    for _ in 0..3 {
        let (name, since, addr) = tap.join().await;
        assert!(since.is_some(), "{name}: a re-attach has since");
        rejoined.push((name, addr.unwrap_or_default()));
    }
    rejoined.sort();
    assert_eq!(
        rejoined,
        [
            ("alice".to_string(), "127.0.0.2".to_string()),
            ("bob".into(), "127.0.0.3".into()),
            ("carol".into(), "198.51.100.7".into()),
        ]
    );
    core.stop().await;
}
