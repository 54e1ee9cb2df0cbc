//! Talking: web and terminal users share the room and private messages, and a
//! browser's timeline (history, resuming after `since`) is exact.

use protocol::{ClientMsg, EventBody, ServerMsg};

use crate::support::*;

#[tokio::test]
async fn web_and_terminal_users_share_room_and_private_messages() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
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
        .until_msg(|m| match m {
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
    assert_eq!(terry.until_message("hello from alice").await, "alice");
    terry.say("hello from terry").await;
    assert_eq!(a.expect_text("hello from terry").await["from"], "terry");
    assert_eq!(b.expect_text("hello from terry").await["from"], "terry");

    // Private, web -> terminal and terminal -> web: only the recipient (and the
    // sender's own echo) sees it.
    a.private("terry", "secret for terry").await;
    let (from, to) = terry
        .until_event(|ev| match ev {
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
async fn a_reconnecting_socket_gets_exactly_what_it_missed() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let mut first = alice.ws().await;
    terry.say("one").await;
    terry.say("two").await;
    let seq = first.expect_text("two").await["seq"].as_u64().unwrap();
    drop(first);
    terry.say("three").await;
    terry.until_message("three").await;
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
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
    terry.say("early <b>bird</b>").await;
    terry.until_message("early <b>bird</b>").await;
    let late = gw.join("late").await;
    let mut ws = late.ws().await;
    let msg = ws.expect_text("early <b>bird</b>").await;
    assert_eq!(msg["history"], true);
    terry.say("now").await;
    assert_eq!(ws.expect_text("now").await["history"], false);
    core.stop().await;
}
