//! Per-address limits: connections, joins per minute, wrong gateway tokens
//! (issue 10 item 4 and "per-address limits"). Several strangers are played
//! from several loopback addresses; loopback is exempt unless
//! `limit_loopback`.

use std::{net::IpAddr, time::Duration};

use core_server::Config;
use futures_util::StreamExt;
use protocol::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg, codec::Frame};

use crate::support::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Loopback counted like any address, with `edit` applied.
fn limited(edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config {
        limit_loopback: true,
        ..config()
    };
    edit(&mut config);
    config
}

async fn from(server: &TestCore, addr: &str) -> RawClient {
    RawClient::connect_from(server.addr, ip(addr)).await
}

/// The hello's answer: `Ok` for a server hello, the `bye`'s code otherwise.
async fn hello(client: &mut RawClient, token: Option<&str>) -> Result<ServerMsg, ErrorCode> {
    client
        .send(ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            client: "test".into(),
            gateway_token: token.map(str::to_string),
        })
        .await;
    match within("the hello's answer", client.framed.next()).await {
        Some(Ok(Frame {
            msg: msg @ ServerMsg::Hello { .. },
            ..
        })) => Ok(msg),
        Some(Ok(Frame {
            msg: ServerMsg::Bye { code, .. },
            ..
        })) => Err(code),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn connections_from_one_address_are_capped_and_other_addresses_are_not_affected() {
    let server = TestCore::with(limited(|c| c.max_connections_per_addr = 2)).await;
    let mut first = from(&server, "127.0.0.2").await;
    let mut second = from(&server, "127.0.0.2").await;
    hello(&mut first, None).await.unwrap();
    hello(&mut second, None).await.unwrap();
    let mut third = from(&server, "127.0.0.2").await;
    assert_eq!(
        hello(&mut third, None).await.unwrap_err(),
        ErrorCode::TooManyConnections
    );
    // Another address is a different person.
    let mut other = from(&server, "127.0.0.3").await;
    hello(&mut other, None).await.unwrap();
    // A closed connection frees its place (once the server has finished with
    // it: try until a newcomer is accepted, within the wait).
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut next = from(&server, "127.0.0.2").await;
        match hello(&mut next, None).await {
            Ok(_) => break,
            Err(ErrorCode::TooManyConnections) => {
                assert!(tokio::time::Instant::now() < deadline, "never freed")
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    drop(second);
}

#[tokio::test]
async fn loopback_is_exempt_by_default() {
    let config = Config {
        max_connections_per_addr: 1,
        joins_per_minute: 1,
        max_auth_failures: 1,
        auth_delay: Duration::from_millis(10),
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut client = from(&server, "127.0.0.2").await;
        client.hello().await;
        client.join(&format!("local{i}")).await.unwrap();
        clients.push(client);
    }
    let mut guesser = from(&server, "127.0.0.2").await;
    assert_eq!(
        hello(&mut guesser, Some("wrong-token-guess"))
            .await
            .unwrap_err(),
        ErrorCode::Unauthorized
    );
    let mut link = from(&server, "127.0.0.2").await;
    assert!(matches!(
        hello(&mut link, Some(TOKEN)).await,
        Ok(ServerMsg::Hello { gateway: true, .. })
    ));
}

#[tokio::test]
async fn joins_per_minute_are_limited_per_address_and_per_browser_on_a_link() {
    let server = TestCore::with(limited(|c| c.joins_per_minute = 2)).await;
    let mut members = Vec::new();
    for name in ["a1", "a2"] {
        let mut client = from(&server, "127.0.0.2").await;
        client.hello().await;
        client.join(name).await.unwrap();
        members.push(client);
    }
    let mut third = from(&server, "127.0.0.2").await;
    third.hello().await;
    third
        .send(ClientMsg::Join {
            name: "a3".into(),
            since: None,
            addr: Some("192.0.2.99".into()), // not a link: ignored
        })
        .await;
    assert_eq!(third.closed().await, Some(ErrorCode::RateLimited));
    let mut other = from(&server, "127.0.0.3").await;
    other.hello().await;
    other.join("b1").await.unwrap();

    // On a gateway link, the browser's address counts, not the link's.
    let mut link = from(&server, "127.0.0.4").await;
    hello(&mut link, Some(TOKEN)).await.unwrap();
    let join = |session: u32, name: &str, addr: &str| {
        Frame::new(ClientMsg::Join {
            name: name.into(),
            since: None,
            addr: Some(addr.into()),
        })
        .with_session(session)
    };
    let answer = |frame: Frame<ServerMsg>| match frame.msg {
        ServerMsg::Welcome { .. } => Ok(frame.session),
        ServerMsg::Error { code, .. } => Err((frame.session, code)),
        other => panic!("unexpected {other:?}"),
    };
    let next = async |link: &mut RawClient| {
        link.until(|f| (!matches!(f.msg, ServerMsg::Event(_))).then(|| f.clone()))
            .await
    };
    for (session, name) in [(1, "w1"), (2, "w2")] {
        link.send_frame(join(session, name, "2001:db8::1")).await;
        assert_eq!(answer(next(&mut link).await), Ok(session));
    }
    // Same /64, another address: the same person.
    link.send_frame(join(3, "w3", "2001:db8::2")).await;
    assert_eq!(
        answer(next(&mut link).await),
        Err((3, ErrorCode::RateLimited))
    );
    link.send_frame(join(4, "w4", "198.51.100.7")).await;
    assert_eq!(answer(next(&mut link).await), Ok(4));
    link.send_frame(join(5, "w5", "not an address")).await;
    assert_eq!(answer(next(&mut link).await), Err((5, ErrorCode::BadFrame)));
    // The link itself is unharmed.
    link.send_frame(Frame::new(ClientMsg::Ping { nonce: 7 }))
        .await;
    assert!(matches!(
        next(&mut link).await.msg,
        ServerMsg::Pong { nonce: 7 }
    ));
}

#[tokio::test]
async fn a_wrong_gateway_token_is_answered_only_after_the_delay() {
    let delay = Duration::from_millis(400);
    let server = TestCore::with(Config {
        auth_delay: delay,
        ..config()
    })
    .await;
    let mut guesser = server.connect().await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        hello(&mut guesser, Some("a-wrong-guess-of-the-token"))
            .await
            .unwrap_err(),
        ErrorCode::Unauthorized
    );
    // A lower bound only: a loaded machine may take longer, never shorter.
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
}

#[tokio::test]
async fn wrong_tokens_lock_the_address_out_even_for_the_right_token() {
    let server = TestCore::with(limited(|c| {
        c.max_auth_failures = 3;
        c.auth_delay = Duration::from_millis(10);
    }))
    .await;
    for _ in 0..3 {
        let mut guesser = from(&server, "127.0.0.2").await;
        assert_eq!(
            hello(&mut guesser, Some("a-wrong-guess-of-the-token"))
                .await
                .unwrap_err(),
            ErrorCode::Unauthorized
        );
    }
    let mut locked = from(&server, "127.0.0.2").await;
    assert_eq!(
        hello(&mut locked, Some(TOKEN)).await.unwrap_err(),
        ErrorCode::RateLimited
    );
    // Plain clients from that address are not affected, nor links elsewhere.
    let mut plain = from(&server, "127.0.0.2").await;
    hello(&mut plain, None).await.unwrap();
    let mut link = from(&server, "127.0.0.3").await;
    assert!(matches!(
        hello(&mut link, Some(TOKEN)).await,
        Ok(ServerMsg::Hello { gateway: true, .. })
    ));
}

#[tokio::test]
async fn a_weak_gateway_token_is_a_configuration_error() {
    for token in ["", "short", "fifteen-bytes!!"] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config {
            gateway_token: Some(token.into()),
            ..Config::default()
        };
        let result = within(
            "serve refusing its configuration",
            core_server::serve(listener, config, Default::default()),
        )
        .await;
        assert!(
            matches!(result, Err(core_server::ServerError::Config(_))),
            "{token:?}: {result:?}"
        );
    }
}
