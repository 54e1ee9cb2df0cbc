//! Integration tests of the web gateway: a real core server, the real gateway,
//! browsers played by tokio-tungstenite + hyper, terminal users by the native
//! codec, all over TCP on 127.0.0.1 ephemeral ports.

mod util;

use hyper::StatusCode;
use protocol::{ClientMsg, EventBody, FileKind, ServerMsg, Target};
use serde_json::Value;
use util::*;

fn texts(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .filter(|m| m["type"] == "message" || m["type"] == "private")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn web_and_terminal_users_share_room_and_private_messages() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;

    // Everyone sees everyone, with the right kind.
    let expected = vec![
        ("alice".to_string(), "web".to_string()),
        ("bob".to_string(), "web".to_string()),
        ("terry".to_string(), "terminal".to_string()),
    ];
    assert_eq!(users_of(&b.hello), expected);
    terry.send(ClientMsg::Users).await;
    let mut seen = terry
        .expect(|m| match m {
            ServerMsg::Users { users } => Some(users.clone()),
            _ => None,
        })
        .await;
    seen.sort_by(|x, y| x.name.cmp(&y.name));
    let seen: Vec<(String, String)> = seen
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                serde_json::to_value(u.kind)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(seen, expected);

    // Room messages both ways.
    a.say("hello from alice").await;
    let m = b.expect_text("hello from alice").await;
    assert_eq!(m["type"], "message");
    assert_eq!(m["from"], "alice");
    assert!(m["seq"].as_u64().unwrap() > 0);
    assert!(m["ts"].as_u64().unwrap() > 0);
    assert_eq!(terry.expect_message("hello from alice").await, "alice");
    terry.say("hello from terry").await;
    assert_eq!(a.expect_text("hello from terry").await["from"], "terry");
    assert_eq!(b.expect_text("hello from terry").await["from"], "terry");

    // Private, web -> terminal and terminal -> web: only the recipient (and the
    // sender's own echo) sees it.
    a.private("terry", "secret for terry").await;
    let (from, to) = terry
        .expect_event(|ev| match ev {
            EventBody::Private { from, to, text } if text == "secret for terry" => {
                Some((from.clone(), to.clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!((from.as_str(), to.as_str()), ("alice", "terry"));
    let echo = a.expect_text("secret for terry").await;
    assert_eq!(
        (echo["type"].as_str(), echo["to"].as_str()),
        (Some("private"), Some("terry"))
    );
    terry.private("bob", "secret for bob").await;
    let got = b.expect_text("secret for bob").await;
    assert_eq!(
        (got["type"].as_str(), got["from"].as_str()),
        (Some("private"), Some("terry"))
    );
    // A room message after both: whoever was not a party saw neither.
    terry.say("marker").await;
    let a_seen = texts(&a.until(|m| m["text"] == "marker").await);
    let b_seen = texts(&b.until(|m| m["text"] == "marker").await);
    assert!(
        !a_seen.contains(&"secret for bob".to_string()),
        "{a_seen:?}"
    );
    assert!(
        !b_seen.contains(&"secret for terry".to_string()),
        "{b_seen:?}"
    );
    core.stop().await;
}

#[tokio::test]
async fn a_form_upload_reaches_the_terminal_user_with_identical_bytes() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let data = pattern(300 * 1024 + 17, 1);

    // Without JavaScript: a redirect back to the chat, with a notice there.
    let resp = alice.upload("terry", "data.bin", &data, false).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
    assert_eq!(resp.header("location"), Some("/chat"));
    let (from, name, bytes) = terry.receive_file().await;
    assert_eq!((from.as_str(), name.as_str()), ("alice", "data.bin"));
    assert!(bytes == data, "bytes differ");
    let page = alice.get("/chat").await.text();
    assert!(
        page.contains("Sent data.bin (300.0 KiB) to terry."),
        "{page}"
    );

    // To the room: the terminal user and the other web user get it, the
    // sender does not get its own file back.
    let bob = gw.join("bob").await;
    let mut b = bob.ws().await;
    let mut a = alice.ws().await;
    let room = pattern(70 * 1024, 9);
    let resp = alice.upload("room", "room.bin", &room, true).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let (from, _, bytes) = terry.receive_file().await;
    assert_eq!(from, "alice");
    assert!(bytes == room);
    let file = b.expect("file").await;
    assert_eq!(file["from"], "alice");
    assert!(bob.get(file["url"].as_str().unwrap()).await.body == room);
    a.say("done").await;
    let seen = a.until(|m| m["text"] == "done").await;
    assert!(seen.iter().all(|m| m["type"] != "file"), "{seen:?}");

    // With JavaScript: JSON. An image goes as an image.
    let resp = alice.upload("terry", "pic.png", PNG, true).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.json()["ok"], true);
    let kind = terry
        .expect_event(|ev| match ev {
            EventBody::File { kind, .. } => Some(*kind),
            _ => None,
        })
        .await;
    assert_eq!(kind, FileKind::Image);
    core.stop().await;
}

#[tokio::test]
async fn a_terminal_image_reaches_a_web_user_and_no_one_else() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut a = alice.ws().await;

    terry
        .send_file(
            Target::User("alice".into()),
            "cat.png",
            PNG,
            FileKind::Image,
        )
        .await;
    let file = a.expect("file").await;
    assert_eq!(file["from"], "terry");
    assert_eq!(file["name"], "cat.png");
    assert_eq!(file["size"], PNG.len());
    assert_eq!(file["inline"], true);
    let url = file["url"].as_str().unwrap();
    let resp = alice.get(url).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(&resp.body[..], PNG);
    assert_eq!(resp.header("content-type"), Some("image/png"));
    assert!(
        resp.header("content-disposition")
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert!(
        resp.header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );

    // Another session, or no session, cannot fetch it.
    assert_eq!(bob.get(url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(gw.get(url, None).await.status, StatusCode::NOT_FOUND);
    core.stop().await;
}

#[tokio::test]
async fn only_real_images_are_inline_everything_else_is_an_attachment() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    let cases: [(&str, &[u8], &str); 3] = [
        ("page.html", b"<script>alert(1)</script>", "text/html"),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            "image/svg+xml",
        ),
        ("fake.png", b"not really a png", "application/octet-stream"),
    ];
    for (name, bytes, mime) in cases {
        // Room-wide: every web user gets it, each can fetch it.
        terry
            .send_file(Target::Room, name, bytes, FileKind::File)
            .await;
        let file = a.expect("file").await;
        assert_eq!(file["name"], name);
        assert_eq!(file["inline"], false);
        assert!(file.get("to").is_none());
        let resp = alice.get(file["url"].as_str().unwrap()).await;
        assert_eq!(&resp.body[..], bytes);
        assert_eq!(resp.header("content-type"), Some(mime), "{name}");
        assert!(
            resp.header("content-disposition")
                .unwrap()
                .starts_with("attachment"),
            "{name}"
        );
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        let file_b = b.expect("file").await;
        assert_eq!(
            bob.get(file_b["url"].as_str().unwrap()).await.body,
            resp.body
        );
    }
    core.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let core = Core::start().await;
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
    let stranger = util::Web {
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

#[tokio::test]
async fn an_oversized_upload_gets_413_and_nothing_is_half_sent() {
    let core = Core::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.max_upload = 100 * 1024).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let big = pattern(300 * 1024, 2);

    // Declared too large: refused before reading.
    let resp = alice.upload("terry", "big.bin", &big, false).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        resp.text().contains("larger than the limit of 100.0 KiB"),
        "{}",
        resp.text()
    );
    // Streamed without a length: refused when the limit is crossed.
    let (content_type, body) = multipart(&[
        ("csrf", None, alice.csrf.as_bytes()),
        ("to", None, b"terry"),
        ("file", Some("big.bin"), &big),
    ]);
    let resp = alice
        .post_upload(&content_type, chunked(body, 16 * 1024), true)
        .await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.json()["error"].as_str().unwrap().contains("100.0 KiB"));
    // Just under the limit goes through, and it is the first file terry sees.
    let ok = pattern(100 * 1024, 3);
    assert_eq!(
        alice.upload("terry", "ok.bin", &ok, true).await.status,
        StatusCode::OK
    );
    let (_, name, bytes) = terry.receive_file().await;
    assert_eq!(name, "ok.bin");
    assert!(bytes == ok);
    core.stop().await;
}

#[tokio::test]
async fn uploads_need_the_csrf_token_and_a_session() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let (content_type, body) = multipart(&[
        ("csrf", None, b"0123456789abcdef0123456789abcdef"),
        ("to", None, b"terry"),
        ("file", Some("x.bin"), b"forged"),
    ]);
    let resp = alice.post_upload(&content_type, full(body), false).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    let (content_type, body) =
        multipart(&[("to", None, b"terry"), ("file", Some("x.bin"), b"no token")]);
    let resp = alice.post_upload(&content_type, full(body), true).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    // To someone who is not here: a clear refusal.
    let resp = alice.upload("nobody", "x.bin", b"x", true).await;
    assert_eq!(
        resp.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        resp.text()
    );
    alice.upload("terry", "real.bin", b"real", true).await;
    let (_, name, _) = terry.receive_file().await;
    assert_eq!(name, "real.bin");
    core.stop().await;
}

#[tokio::test]
async fn the_link_is_cut_and_web_sessions_recover_with_nothing_lost_or_doubled() {
    let core = Core::start().await;
    let proxy = Proxy::start(core.addr).await;
    let gw = Gateway::start(proxy.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    terry.say("before").await;
    a.expect_text("before").await;
    b.expect_text("before").await;

    proxy.cut();
    for ws in [&mut a, &mut b] {
        let link = ws.expect("link").await;
        assert_eq!(link["state"], "reconnecting");
    }
    // The room goes on without them.
    terry
        .expect_event(|ev| matches!(ev, EventBody::Left { name } if name == "bob").then_some(()))
        .await;
    for text in ["gap 1", "gap 2", "gap 3"] {
        terry.say(text).await;
        terry.expect_message(text).await;
    }
    proxy.resume();
    for ws in [&mut a, &mut b] {
        let seen = ws
            .until(|m| m["type"] == "link" && m["state"] == "connected")
            .await;
        assert_eq!(texts(&seen), ["gap 1", "gap 2", "gap 3"], "{seen:?}");
    }
    terry.say("after").await;
    a.say("alice is back").await;
    for ws in [&mut a, &mut b] {
        let seen = ws.until(|m| m["text"] == "alice is back").await;
        let t = texts(&seen);
        assert_eq!(t, ["after", "alice is back"], "{seen:?}");
    }
    assert_eq!(terry.expect_message("alice is back").await, "alice");
    // Seqs only grow: a browser's dedup by seq never drops anything new.
    assert_eq!(proxy.accepted(), 2);
    core.stop().await;
}

#[tokio::test]
async fn a_re_attach_waits_until_the_core_frees_the_name_of_a_vanished_link() {
    let core = Core::start().await;
    let proxy = Proxy::start(core.addr).await;
    let gw = Gateway::start(proxy.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    terry.say("before").await;
    a.expect_text("before").await;

    // The gateway loses the link, but the core still holds it (and the name).
    proxy.vanish();
    assert_eq!(a.expect("link").await["state"], "reconnecting");
    // The gateway is back on a new connection and retries alice's name.
    within("a refused re-attach", async {
        while gw.state.hub.rejoin_retries() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(proxy.accepted(), 2);
    terry.say("while held").await;
    terry.expect_message("while held").await;
    // Now the core sees the old link close; the retried re-attach succeeds.
    proxy.release();
    let seen = a
        .until(|m| m["type"] == "link" && m["state"] == "connected")
        .await;
    assert_eq!(texts(&seen), ["while held"], "{seen:?}");
    a.say("alice again").await;
    assert_eq!(terry.expect_message("alice again").await, "alice");
    core.stop().await;
}

#[tokio::test]
async fn the_core_restarts_and_web_sessions_come_back() {
    let core = Core::start().await;
    let addr = core.addr;
    let gw = Gateway::start(addr).await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    let mut terry = Tcp::join(addr, "terry").await;
    terry.say("before restart").await;
    let before = a.expect_text("before restart").await["seq"]
        .as_u64()
        .unwrap();

    core.stop().await;
    assert_eq!(a.expect("link").await["state"], "reconnecting");
    let core = Core::start_on(addr).await;
    let seen = a
        .until(|m| m["type"] == "link" && m["state"] == "connected")
        .await;
    assert!(texts(&seen).is_empty(), "{seen:?}");

    let mut terry = Tcp::join(addr, "terry").await;
    assert!(
        terry.users.iter().any(|u| u.name == "alice"),
        "{:?}",
        terry.users
    );
    terry.say("after restart").await;
    let after = a.expect_text("after restart").await;
    // The new core numbers from 1 again; the browser's seq still grows.
    assert!(after["seq"].as_u64().unwrap() > before);
    a.say("still here").await;
    assert_eq!(terry.expect_message("still here").await, "alice");
    core.stop().await;
}

#[tokio::test]
async fn several_browsers_share_one_tcp_connection_to_the_core() {
    let core = Core::start().await;
    let proxy = Proxy::start(core.addr).await;
    let gw = Gateway::start(proxy.addr).await;
    let mut sockets = Vec::new();
    for i in 0..6 {
        let web = gw.join(&format!("web{i}")).await;
        sockets.push(web.ws().await);
    }
    let mut terry = Tcp::join(core.addr, "terry").await;
    terry.say("to everyone").await;
    for ws in &mut sockets {
        ws.expect_text("to everyone").await;
    }
    assert_eq!(proxy.accepted(), 1);
    assert_eq!(proxy.live(), 1);
    core.stop().await;
}

#[tokio::test]
async fn the_join_page_shows_name_errors() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let _terry = Tcp::join(core.addr, "terry").await;

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
    let core = Core::start().await;
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
    let core = Core::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.session_grace = std::time::Duration::from_secs(1)
    })
    .await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let _ghost = gw.join("ghost").await;
    terry
        .expect_event(|ev| matches!(ev, EventBody::Left { name } if name == "ghost").then_some(()))
        .await;
    assert_eq!(gw.state.hub.session_count(), 0);
    core.stop().await;
}

#[tokio::test]
async fn a_reconnecting_socket_gets_exactly_what_it_missed() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let mut first = alice.ws().await;
    terry.say("one").await;
    terry.say("two").await;
    let seq = first.expect_text("two").await["seq"].as_u64().unwrap();
    drop(first);
    terry.say("three").await;
    terry.expect_message("three").await;
    let mut second = alice.ws_since(seq).await;
    let msg = second.next().await;
    assert_eq!(msg["text"], "three", "{msg}");
    // A fresh page (since=0) gets the whole kept timeline, oldest first.
    let mut fresh = alice.ws().await;
    let seen = fresh.until(|m| m["text"] == "three").await;
    assert_eq!(texts(&seen), ["one", "two", "three"]);
    core.stop().await;
}

#[tokio::test]
async fn history_is_marked_for_a_late_joiner() {
    let core = Core::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    terry.say("early <b>bird</b>").await;
    terry.expect_message("early <b>bird</b>").await;
    let late = gw.join("late").await;
    let mut ws = late.ws().await;
    let msg = ws.expect_text("early <b>bird</b>").await;
    assert_eq!(msg["history"], true);
    terry.say("now").await;
    assert_eq!(ws.expect_text("now").await["history"], false);
    core.stop().await;
}

#[tokio::test]
async fn browser_messages_are_rate_and_size_limited() {
    let core = Core::start().await;
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
    let core = Core::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.spool_max_bytes = 1000).await;
    let mut terry = Tcp::join(core.addr, "terry").await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    terry
        .send_file(
            Target::User("alice".into()),
            "big.bin",
            &pattern(2000, 4),
            FileKind::File,
        )
        .await;
    let notice = a.expect("notice").await;
    assert!(
        notice["text"].as_str().unwrap().contains("full"),
        "{notice}"
    );
    terry
        .send_file(
            Target::User("alice".into()),
            "small.bin",
            b"fits",
            FileKind::File,
        )
        .await;
    assert_eq!(a.expect("file").await["name"], "small.bin");
    core.stop().await;
}

#[tokio::test]
async fn the_binary_documents_its_options() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_web-gateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--http",
        "--core ",
        "--gateway-token",
        "--core-listen",
        "--allowed-origin",
        "--max-upload",
        "--spool-dir",
        "--spool-max-bytes",
        "--spool-expiry",
        "--session-grace",
        "--browser-queue",
        "--ws-max-message",
        "--ws-rate",
        "--reconnect-min",
        "--core-ping",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    // --core without a token is a clear error, not a start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_web-gateway"))
        .args(["--core", "127.0.0.1:1"])
        .env_remove("SWITCHBOARD_GATEWAY_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--gateway-token"));
}

#[tokio::test]
async fn the_binary_starts_an_embedded_core_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_web-gateway"))
        .args(["--http", "127.0.0.1:0", "--core-listen", "127.0.0.1:0"])
        .env_remove("SWITCHBOARD_GATEWAY_TOKEN")
        .env_remove("SWITCHBOARD_CORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut http, mut core) = (None, None);
    while http.is_none() || core.is_none() {
        let line = within("the startup lines", lines.next_line())
            .await
            .unwrap()
            .expect("a line");
        if let Some(rest) = line.split("open http://").nth(1) {
            http = Some(rest.trim_end_matches('/').to_string());
        }
        if let Some(rest) = line.split("--server ").nth(1) {
            core = Some(rest.split_whitespace().next().unwrap().to_string());
        }
    }
    let http: std::net::SocketAddr = http.unwrap().parse().unwrap();
    let core: std::net::SocketAddr = core.unwrap().parse().unwrap();
    // A terminal user on the embedded core and a browser on the gateway meet.
    let mut terry = Tcp::join(core, "terry").await;
    let req =
        hyper::Request::post("/join").header("content-type", "application/x-www-form-urlencoded");
    let resp = send(http, req, full(bytes::Bytes::from_static(b"name=webby"))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
    let joined = terry
        .expect_event(|ev| match ev {
            EventBody::Joined { user } => Some(user.clone()),
            _ => None,
        })
        .await;
    assert_eq!(joined.name, "webby");

    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = within("the gateway to exit", child.wait()).await.unwrap();
    assert!(status.success(), "{status:?}");
}
