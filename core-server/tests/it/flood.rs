//! Floods of the room (issue 10, items 1 and 5): a member that keeps reading
//! is never dropped because others send a lot at once; one that stops reading
//! is dropped once it is more than the room buffer behind.

use core_server::Config;
use futures_util::StreamExt;
use protocol::{ClientMsg, ErrorCode, EventBody, ServerMsg, codec::encode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// The real rate limits (each flooder stays within its own token bucket).
fn flood_config() -> Config {
    let defaults = Config::default();
    Config {
        rate_per_sec: defaults.rate_per_sec,
        rate_burst: defaults.rate_burst,
        ..config()
    }
}

/// `flooders` joined connections (never reading again) each send `each` room
/// messages of `size` bytes in one write; a member that keeps reading gets
/// every one, in order, and is not dropped.
async fn a_reader_survives(flooders: usize, each: usize, size: usize) {
    let server = TestCore::with(flood_config()).await;
    let mut clients = Vec::new();
    for i in 0..flooders {
        let mut c = RawClient::connect_small_buffer(server.addr).await;
        c.hello().await;
        c.join(&format!("f{i}")).await.expect("join");
        clients.push(c);
    }
    let mut reader = server.join("reader").await;
    // Each flooder's burst, encoded by hand: "f<i> <n> " padded to `size`.
    let bursts: Vec<Vec<u8>> = (0..flooders)
        .map(|i| {
            let mut bytes = Vec::new();
            for n in 0..each {
                let mut text = format!("f{i} {n} ");
                text.extend(std::iter::repeat_n('x', size.saturating_sub(text.len())));
                let frame = encode(0, &ClientMsg::Say { text }, &[]);
                bytes.extend_from_slice(&frame.0);
            }
            bytes
        })
        .collect();
    // Each flooder writes its burst at once, then reads (and discards) what
    // it is sent, as a normal client does: otherwise the kernel would hold
    // megabytes per flooder, which is not what this test is about.
    let mut tasks = tokio::task::JoinSet::new();
    for (c, burst) in clients.into_iter().zip(bursts) {
        tasks.spawn(async move {
            let mut socket = c.framed.into_inner();
            socket.write_all(&burst).await.unwrap();
            let mut scratch = vec![0u8; 64 * 1024];
            while matches!(socket.read(&mut scratch).await, Ok(n) if n > 0) {}
        });
    }
    let mut next = vec![0usize; flooders];
    let mut last_seq = 0;
    for got in 0..flooders * each {
        let Ok(frame) = tokio::time::timeout(WAIT, reader.framed.next()).await else {
            panic!("nothing for {WAIT:?} after {got} messages");
        };
        let frame = frame.expect("open").expect("decodable");
        let ServerMsg::Event(event) = frame.msg else {
            panic!("the reader got {:?}", frame.msg);
        };
        assert!(event.seq > last_seq, "seq order");
        last_seq = event.seq;
        let EventBody::Message { from, text } = event.event else {
            panic!("expected only messages, got {:?}", event.event);
        };
        let mut words = text.split(' ');
        let i: usize = words.next().unwrap()[1..].parse().unwrap();
        let n: usize = words.next().unwrap().parse().unwrap();
        assert_eq!(from, format!("f{i}"));
        assert_eq!(n, next[i], "messages of f{i} in order");
        next[i] += 1;
    }
    // Still connected: its own message comes back.
    reader.say("after").await;
    assert_eq!(reader.message().await, ("reader".into(), "after".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_keeps_reading_survives_250_senders_of_40_big_messages() {
    a_reader_survives(250, 40, 3000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_keeps_reading_survives_200_senders_of_40_tiny_messages() {
    a_reader_survives(200, 40, 1).await;
}

#[tokio::test]
async fn a_member_that_stops_reading_is_dropped_once_it_is_a_room_buffer_behind() {
    let config = Config {
        room_buffer: core_server::config::MIN_ROOM_BUFFER,
        max_message: 60_000,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut victim = RawClient::connect_small_buffer(server.addr).await;
    victim.hello().await;
    victim.join("victim").await.unwrap();
    let mut talker = server.join("talker").await;
    let mut listener = server.join("listener").await;
    talker.event().await;
    // The victim never reads again. The talker floods the room with big
    // messages; the listener and the talker keep receiving every one.
    let text = "x".repeat(60_000);
    let mut sent = 0;
    let dropped = loop {
        talker.say(&text).await;
        sent += 1;
        // The talker's own echo (it may also see the victim leave first).
        talker
            .until(|f| matches!(&f.msg, ServerMsg::Event(e) if matches!(&e.event, EventBody::Message { .. })).then_some(()))
            .await;
        match listener.event().await {
            EventBody::Message { .. } => {}
            EventBody::Left { name } => break name,
            other => panic!("unexpected {other:?}"),
        }
        assert!(sent < 2_000, "the victim was never dropped");
    };
    assert_eq!(dropped, "victim");
    // Only once it was more than the buffer behind: what the kernel holds for
    // it plus at least 64 KiB of room frames.
    assert!(
        sent * 60_000 > core_server::config::MIN_ROOM_BUFFER,
        "dropped after {sent}"
    );
    // Its place is gone; the room goes on.
    talker.say("after").await;
    assert_eq!(listener.message().await.0, "talker"); // the one in flight
    assert_eq!(listener.message().await.1, "after");
    // The victim's connection is closed (the `bye` only if its socket had room).
    let bye = victim.closed().await;
    assert!(
        matches!(bye, None | Some(ErrorCode::SlowConsumer)),
        "{bye:?}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_its_replies_is_dropped_at_its_queue_bound_in_bytes() {
    let config = Config {
        outbound_queue: 64 * 1024,
        ..config()
    };
    let server = TestCore::with(config).await;
    let mut bystander = server.join("bystander").await;
    let mut client = RawClient::connect_small_buffer(server.addr).await;
    client.hello().await;
    client.join("pinger").await.unwrap();
    bystander.event().await;
    // 20,000 pings in one write, never reading a pong: about 2 MB of replies
    // (each pong counts its frame plus 64 bytes) against a 64 KiB bound.
    let mut burst = Vec::new();
    for nonce in 0..20_000 {
        burst.extend_from_slice(&encode(0, &ClientMsg::Ping { nonce }, &[]).0);
    }
    client.send_raw(&burst).await;
    assert_eq!(
        bystander.event().await,
        EventBody::Left {
            name: "pinger".into()
        }
    );
    let bye = client.closed().await;
    assert!(
        matches!(bye, None | Some(ErrorCode::SlowConsumer)),
        "{bye:?}"
    );
}
