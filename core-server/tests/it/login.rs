//! Before the login: what a stranger who has not joined can make the server
//! hold, log or answer (issue 10 items 2, 6, 7).

use std::{
    io::Write,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use core_server::Config;
use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientMsg, ErrorCode, MAX_CLIENT_LEN, PRE_LOGIN_MAX_FRAME, PROTOCOL_VERSION, ServerMsg,
    codec::{Frame, encode},
};

use crate::support::*;

/// Reads until the server closes; the `bye`'s code and message.
async fn bye_of(mut client: RawClient) -> (ErrorCode, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.framed.next()).await {
            Err(_) => panic!("connection still open after {WAIT:?}"),
            Ok(None) | Ok(Some(Err(_))) => panic!("closed without a bye"),
            Ok(Some(Ok(Frame {
                msg: ServerMsg::Bye { code, message },
                ..
            }))) => return (code, message),
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn hello(client: &str) -> ClientMsg {
    ClientMsg::Hello {
        protocol: PROTOCOL_VERSION,
        client: client.into(),
        gateway_token: None,
    }
}

#[tokio::test]
async fn a_big_frame_before_hello_is_refused_at_once_from_its_length() {
    // A login timeout far beyond the test's wait: only the pre-login frame
    // limit can end this connection in time.
    let config = Config {
        login_timeout: Duration::from_secs(60),
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut stranger = server.connect().await;
    // 1 MiB announced (the default --max-frame), a first part of it sent.
    stranger.send_raw(&(1024u32 * 1024).to_be_bytes()).await;
    stranger.send_raw(&[0u8; 16 * 1024]).await;
    let (code, message) = bye_of(stranger).await;
    assert_eq!(code, ErrorCode::FrameTooLarge);
    assert!(
        message.contains(&PRE_LOGIN_MAX_FRAME.to_string()),
        "{message}"
    );

    // After hello, before join: still small frames only.
    let mut half = server.connect().await;
    half.hello().await;
    half.send_raw(&(PRE_LOGIN_MAX_FRAME as u32 + 1).to_be_bytes())
        .await;
    assert_eq!(bye_of(half).await.0, ErrorCode::FrameTooLarge);

    // Once joined, the full limit applies: a 64 KiB chunk frame is read (and
    // refused for what it says, not for its size).
    let mut alice = server.join("alice").await;
    let chunk = encode(0, &ClientMsg::FileChunk { id: 1 }, &[7u8; 64 * 1024]);
    alice.send_raw(&chunk.0).await;
    assert_eq!(alice.error().await, ErrorCode::UnknownTransfer);
    // And a gateway link is logged in by its hello.
    let mut link = server.connect().await;
    link.hello_with(Some(TOKEN)).await;
    link.send_raw(&chunk.0).await;
    assert_eq!(link.error().await, ErrorCode::BadFrame); // user frame on session 0
}

#[tokio::test]
async fn a_long_client_string_is_refused_with_a_clear_bye() {
    let server = TestCore::start().await;
    let mut long = server.connect().await;
    long.send(hello(&"c".repeat(MAX_CLIENT_LEN + 1))).await;
    let (code, message) = bye_of(long).await;
    assert_eq!(code, ErrorCode::BadFrame);
    assert!(message.contains("client string"), "{message}");
    // Right at the limit is fine.
    let mut ok = server.connect().await;
    ok.send(hello(&"c".repeat(MAX_CLIENT_LEN))).await;
    assert!(matches!(ok.recv_msg().await, ServerMsg::Hello { .. }));
}

/// A `MakeWriter` that keeps everything logged, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Everything the tests in this binary log from now on. A global subscriber:
/// a thread-local one (`set_default`) misses events whose callsites other
/// tests' threads registered first.
fn captured_log() -> Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        log
    })
    .clone()
}

#[tokio::test]
async fn a_strangers_client_string_reaches_the_log_short_and_escaped() {
    let log = captured_log();
    let server = TestCore::start().await;

    // 1,000 KiB of client string: refused from the frame's length, unread.
    let mut huge = server.connect().await;
    let huge_client = "H".repeat(1000 * 1024);
    huge.framed.send(Frame::new(hello(&huge_client))).await.ok();
    assert_eq!(bye_of(huge).await.0, ErrorCode::FrameTooLarge);
    // 101 bytes: refused, not logged.
    let mut long = server.connect().await;
    long.send(hello(&format!("L{}", "l".repeat(MAX_CLIENT_LEN))))
        .await;
    assert_eq!(bye_of(long).await.0, ErrorCode::BadFrame);
    // A short one with a forged log line and a bidi override: escaped.
    let mut forger = server.connect().await;
    forger
        .send(hello("evil\n2026-01-01 INFO admin-b7e1 logged in\u{202e}"))
        .await;
    assert!(matches!(forger.recv_msg().await, ServerMsg::Hello { .. }));
    server.stop().await;

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        !text.contains("HHHHHHHH"),
        "the huge client string was logged"
    );
    assert!(
        !text.contains("Llllllll"),
        "the long client string was logged"
    );
    assert!(
        !text.contains("\n2026-01-01 INFO admin-b7e1"),
        "a client string forged a log line:\n{text}"
    );
    assert!(
        !text.contains('\u{202e}'),
        "a bidi override reached the log"
    );
    assert!(text.contains(r"evil\u{a}2026-01-01"), "{text}");
}

#[tokio::test]
async fn a_burst_of_file_frames_before_join_is_cut_off() {
    let config = Config {
        rate_per_sec: 1,
        rate_burst: 5,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut stranger = server.connect().await;
    stranger.hello().await;
    // 1,000 chunks and ends for nothing, in one write, without joining.
    for i in 0..1000u32 {
        let msg = if i % 2 == 0 {
            ClientMsg::FileChunk { id: i }
        } else {
            ClientMsg::FileEnd { id: i }
        };
        let frame = Frame::new(msg).with_payload(bytes::Bytes::from_static(&[1; 1000]));
        stranger.framed.feed(frame).await.unwrap();
    }
    // The server may close while we write: that is the point.
    let _ = SinkExt::<Frame<ClientMsg>>::flush(&mut stranger.framed).await;
    let mut not_joined = 0;
    let bye = loop {
        match tokio::time::timeout(WAIT, stranger.framed.next()).await {
            Err(_) => panic!("still open after {not_joined} not_joined replies"),
            Ok(None) | Ok(Some(Err(_))) => panic!("closed without a bye"),
            Ok(Some(Ok(frame))) => match frame.msg {
                ServerMsg::Error {
                    code: ErrorCode::NotJoined,
                    ..
                } => not_joined += 1,
                ServerMsg::Bye { code, .. } => break code,
                other => panic!("unexpected {other:?}"),
            },
        }
    };
    assert_eq!(bye, ErrorCode::RateLimited);
    // The hello took one token; one more may have dripped in.
    assert!(not_joined <= 6, "{not_joined} replies");

    // Pings before hello count too.
    let mut pinger = server.connect().await;
    for nonce in 0..1000 {
        pinger
            .framed
            .feed(Frame::new(ClientMsg::Ping { nonce }))
            .await
            .unwrap();
    }
    let _ = SinkExt::<Frame<ClientMsg>>::flush(&mut pinger.framed).await;
    let mut pongs = 0;
    let bye = loop {
        match within("the pinger's end", pinger.framed.next()).await {
            Some(Ok(Frame {
                msg: ServerMsg::Pong { .. },
                ..
            })) => pongs += 1,
            Some(Ok(Frame {
                msg: ServerMsg::Bye { code, .. },
                ..
            })) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(bye, ErrorCode::RateLimited);
    assert!(pongs <= 6, "{pongs} pongs");
}

#[tokio::test]
async fn a_welcomes_history_is_capped_in_bytes_oldest_first() {
    let config = Config {
        history: 100,
        history_bytes: 20_000,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut talker = server.join("talker").await;
    for i in 0..100 {
        talker.say(&format!("{i:03} {}", "x".repeat(3_996))).await;
        talker.message().await;
    }
    let mut joiner = server.connect().await;
    joiner.hello().await;
    let welcome = joiner.join("joiner").await.unwrap();
    let sizes: Vec<usize> = welcome
        .history
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len())
        .collect();
    let total: usize = sizes.iter().sum();
    assert!(total <= 20_000, "{total} bytes of history");
    // The newest messages, in order, as many as fit: the oldest were dropped.
    let texts: Vec<String> = welcome
        .history
        .iter()
        .map(|e| match &e.event {
            protocol::EventBody::Message { text, .. } => text[..3].to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    let first = 100 - texts.len();
    let expected: Vec<String> = (first..100).map(|i| format!("{i:03}")).collect();
    assert_eq!(texts, expected);
    assert!(total + sizes[0] > 20_000, "one more would have fitted");
}

#[tokio::test]
async fn joiners_that_never_read_are_refused_beyond_the_per_address_cap() {
    let config = Config {
        limit_loopback: true,
        max_connections_per_addr: 4,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut talker = server.join("talker").await; // 127.0.0.1
    for _ in 0..50 {
        talker.say(&"x".repeat(4_000)).await;
        talker.message().await;
    }
    // Each joins and never reads its welcome again.
    let mut idle = Vec::new();
    for i in 0..4 {
        let mut joiner = RawClient::connect_from(server.addr, "127.0.0.2".parse().unwrap()).await;
        joiner.hello().await;
        joiner
            .send(ClientMsg::Join {
                name: format!("idle{i}"),
                since: None,
                addr: None,
            })
            .await;
        idle.push(joiner);
    }
    let mut one_more = RawClient::connect_from(server.addr, "127.0.0.2".parse().unwrap()).await;
    one_more.send(hello("test")).await;
    assert_eq!(bye_of(one_more).await.0, ErrorCode::TooManyConnections);
    drop(idle);
}
