//! DNS rebinding (issue 10 item 9): a page under a name the attacker points at
//! the gateway is same-origin with itself, so its requests carry a matching
//! `Origin`; only the Host check stops it. Every path refuses it with 421.

use bytes::Bytes;
use hyper::{Request, StatusCode};

use crate::support::*;

#[tokio::test]
async fn a_rebound_host_name_can_neither_join_nor_read_the_room() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    let evil_host = format!("rebind.attacker.test:{}", gw.addr.port());
    let evil_origin = format!("http://{evil_host}");

    // Joining from the rebound page: refused, nobody joined.
    let join = Request::post("/join")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &evil_origin);
    let resp = send_as(gw.addr, &evil_host, join, full(Bytes::from("name=mallory"))).await;
    assert_eq!(
        resp.status,
        StatusCode::MISDIRECTED_REQUEST,
        "{}",
        resp.text()
    );
    assert!(resp.text().contains("host name"), "{}", resp.text());

    // Reading with a session (the browser sends cookies by name, and the
    // rebound page could have got one): the page, the socket, the API, a file.
    for path in ["/", "/chat", "/api/session", "/static/app.js", "/files/x"] {
        let req = Request::get(path).header("cookie", &alice.cookie);
        let resp = send_as(gw.addr, &evil_host, req, full(Bytes::new())).await;
        assert_eq!(resp.status, StatusCode::MISDIRECTED_REQUEST, "{path}");
        assert!(!resp.text().contains(&alice.csrf), "{path}");
    }
    let refused = alice.try_ws_as(&evil_host, "/ws", &evil_origin).await.err();
    assert_eq!(refused, Some(StatusCode::MISDIRECTED_REQUEST));
    let upload = alice.post_upload_as(&evil_host, &evil_origin).await;
    assert_eq!(upload.status, StatusCode::MISDIRECTED_REQUEST);

    // The real names still work, localhost too (bound to loopback).
    let local = format!("localhost:{}", gw.addr.port());
    let req = Request::get("/api/session").header("cookie", &alice.cookie);
    assert_eq!(
        send_as(gw.addr, &local, req, full(Bytes::new()))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        alice
            .try_ws_as(&local, "/ws", &format!("http://{local}"))
            .await
            .is_ok()
    );
    // Nobody named mallory came: the barrier is alice's own message.
    a.say("barrier").await;
    let seen = a.until(|m| m["text"] == "barrier").await;
    assert!(seen.iter().all(|m| m["type"] != "joined"), "{seen:?}");
    core.stop().await;
}

#[tokio::test]
async fn a_public_url_and_allowed_origins_name_the_hosts_served() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.public_url = Some("https://chat.example.org".into());
        args.allowed_origins = vec!["https://other.example.org:8443".into()];
    })
    .await;
    let status = |host: &'static str| {
        let addr = gw.addr;
        async move {
            send_as(addr, host, Request::get("/"), full(Bytes::new()))
                .await
                .status
        }
    };
    assert_eq!(status("chat.example.org").await, StatusCode::OK);
    assert_eq!(status("CHAT.example.org:443").await, StatusCode::OK);
    assert_eq!(status("other.example.org").await, StatusCode::OK);
    assert_eq!(status("example.org").await, StatusCode::MISDIRECTED_REQUEST);
    core.stop().await;
}
