//! The gateway's one link to the core: shared by every browser, cut and
//! restored (nothing lost or doubled), vanished while the core still holds the
//! names, and a core that restarts.

use protocol::EventBody;

use crate::support::*;

#[tokio::test]
async fn the_link_is_cut_and_web_sessions_recover_with_nothing_lost_or_doubled() {
    let core = TestCore::start().await;
    let proxy = Proxy::start(core.addr).await;
    let gw = Gateway::start(proxy.addr).await;
    let mut terry = core.join("terry").await;
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
        .until_event(|ev| matches!(ev, EventBody::Left { name } if name == "bob").then_some(()))
        .await;
    for text in ["gap 1", "gap 2", "gap 3"] {
        terry.say(text).await;
        terry.until_message(text).await;
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
    assert_eq!(terry.until_message("alice is back").await, "alice");
    // Seqs only grow: a browser's dedup by seq never drops anything new.
    assert_eq!(proxy.accepted(), 2);
    core.stop().await;
}

#[tokio::test]
async fn a_re_attach_waits_until_the_core_frees_the_name_of_a_vanished_link() {
    let core = TestCore::start().await;
    let proxy = Proxy::start(core.addr).await;
    let gw = Gateway::start(proxy.addr).await;
    let mut terry = core.join("terry").await;
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
    terry.until_message("while held").await;
    // Now the core sees the old link close; the retried re-attach succeeds.
    proxy.release();
    let seen = a
        .until(|m| m["type"] == "link" && m["state"] == "connected")
        .await;
    assert_eq!(texts(&seen), ["while held"], "{seen:?}");
    a.say("alice again").await;
    assert_eq!(terry.until_message("alice again").await, "alice");
    core.stop().await;
}

#[tokio::test]
async fn the_core_restarts_and_web_sessions_come_back() {
    // Outside the ephemeral range: while the core is down, no outgoing
    // connection (the gateway's own redials included) can take its port.
    let core = TestCore::start_restartable(config()).await;
    let addr = core.addr;
    let gw = Gateway::start(addr).await;
    let alice = gw.join("alice").await;
    let mut a = alice.ws().await;
    let mut terry = core.join("terry").await;
    terry.say("before restart").await;
    let before = a.expect_text("before restart").await["seq"]
        .as_u64()
        .unwrap();

    core.stop().await;
    assert_eq!(a.expect("link").await["state"], "reconnecting");
    let core = TestCore::start_on(addr, config()).await;
    let seen = a
        .until(|m| m["type"] == "link" && m["state"] == "connected")
        .await;
    assert!(texts(&seen).is_empty(), "{seen:?}");

    let mut terry = core.connect().await;
    terry.hello().await;
    let welcome = terry.join("terry").await.expect("join");
    assert!(
        welcome.users.iter().any(|u| u.name == "alice"),
        "{:?}",
        welcome.users
    );
    terry.say("after restart").await;
    let after = a.expect_text("after restart").await;
    // The new core numbers from 1 again; the browser's seq still grows.
    assert!(after["seq"].as_u64().unwrap() > before);
    a.say("still here").await;
    assert_eq!(terry.until_message("still here").await, "alice");
    core.stop().await;
}

#[tokio::test]
async fn several_browsers_share_one_tcp_connection_to_the_core() {
    let core = TestCore::start().await;
    let proxy = Proxy::start(core.addr).await;
    let gw = Gateway::start(proxy.addr).await;
    let mut sockets = Vec::new();
    for i in 0..6 {
        let web = gw.join(&format!("web{i}")).await;
        sockets.push(web.ws().await);
    }
    let mut terry = core.join("terry").await;
    terry.say("to everyone").await;
    for ws in &mut sockets {
        ws.expect_text("to everyone").await;
    }
    assert_eq!(proxy.accepted(), 1);
    assert_eq!(proxy.live(), 1);
    core.stop().await;
}
