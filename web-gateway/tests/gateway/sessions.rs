//! Sessions: the join page and its name errors, the Origin check on the
//! WebSocket, leaving, and a session abandoned past its grace period.

use hyper::StatusCode;
use protocol::EventBody;

use crate::support::*;

#[tokio::test]
async fn the_join_page_shows_name_errors() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let _terry = core.join("terry").await;

    let page = gw.get("/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("data-testid=\"join-name\""));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // `no-referrer` would make browsers send `Origin: null` on our own form
    // posts, which the Origin check refuses.
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));

    let check = |resp: Resp, status: StatusCode, words: &str| {
        assert_eq!(resp.status, status, "{}", resp.text());
        let html = resp.text();
        assert!(html.contains("data-testid=\"join-error\""), "{html}");
        assert!(html.contains(words), "{html}");
        assert!(resp.header("set-cookie").is_none());
    };
    check(
        gw.post_form("/join", None, "name=TERRY").await,
        StatusCode::CONFLICT,
        "already taken",
    );
    check(
        gw.post_form("/join", None, "name=bad+name%21").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "letters, digits",
    );
    check(
        gw.post_form("/join", None, "name=all").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reserved",
    );
    // HTML in a refused name is shown as text.
    let resp = gw.post_form("/join", None, "name=%3Cb%3Ex").await;
    assert!(!resp.text().contains("<b>x"));
    // The same name twice from the web is taken too.
    gw.join("alice").await;
    check(
        gw.post_form("/join", None, "name=Alice").await,
        StatusCode::CONFLICT,
        "already taken",
    );

    // The page's assets are served.
    let js = gw.get("/static/app.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert!(js.text().contains("textContent"));
    core.stop().await;
}

#[tokio::test]
async fn leaving_ends_the_session_and_frees_the_name() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut b = bob.ws().await;
    let mut a = alice.ws().await;

    // A leave without the CSRF token is refused.
    let resp = gw
        .post_form("/leave", Some(&alice.cookie), "csrf=wrong")
        .await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    let resp = gw
        .post_form(
            "/leave",
            Some(&alice.cookie),
            &format!("csrf={}", alice.csrf),
        )
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert!(resp.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(a.expect("ended").await["type"], "ended");
    let left = b.expect("left").await;
    assert_eq!(left["name"], "alice");
    // The old cookie is worthless; the name is free again.
    let resp = alice.get("/chat").await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(resp.header("location"), Some("/"));
    gw.join("alice").await;
    core.stop().await;
}

#[tokio::test]
async fn an_abandoned_session_expires() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.session_grace = std::time::Duration::from_secs(1)
    })
    .await;
    let mut terry = core.join("terry").await;
    let _ghost = gw.join("ghost").await;
    terry
        .until_event(|ev| matches!(ev, EventBody::Left { name } if name == "ghost").then_some(()))
        .await;
    assert_eq!(gw.state.hub.session_count(), 0);
    core.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.allowed_origins = vec!["https://chat.example.org".into()];
    })
    .await;
    let alice = gw.join("alice").await;
    let refused = alice.try_ws("/ws", "http://evil.example").await.err();
    assert_eq!(refused, Some(StatusCode::FORBIDDEN));
    assert!(
        alice
            .try_ws("/ws", "https://chat.example.org")
            .await
            .is_ok()
    );
    assert!(alice.try_ws("/ws", &alice.origin()).await.is_ok());
    // No cookie: no socket either.
    let stranger = Web {
        name: "x".into(),
        cookie: "switchboard_session=nope".into(),
        csrf: String::new(),
        addr: gw.addr,
    };
    assert_eq!(
        stranger.try_ws("/ws", &gw.origin()).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    core.stop().await;
}
