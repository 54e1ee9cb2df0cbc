//! A flooded room (issue 10, item 1) with the real terminal client among the
//! readers: hundreds of users each send a burst within their rate limit at
//! once, and `switchboard` prints every message and stays connected.

use protocol::{ClientMsg, codec::encode};
use testkit::RawClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Client, start_core};

/// Users that flood, and the messages each sends in one write: the server's
/// default burst (the real rate limit; `start_core` has the defaults).
const FLOODERS: usize = 200;
const EACH: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_client_gets_every_message_of_200_flooders_and_stays_connected() {
    let server = start_core().await;
    assert_eq!(core_server::Config::default().rate_burst as usize, EACH);
    let mut watcher = Client::join(&server, "watcher").await;
    let mut flooders = Vec::new();
    for i in 0..FLOODERS {
        let mut c = RawClient::connect_small_buffer(server.addr).await;
        c.hello().await;
        c.join(&format!("f{i}")).await.expect("join");
        flooders.push(c);
    }
    for i in 0..FLOODERS {
        let name = format!("f{i}");
        watcher
            .expect(|v| v["kind"] == "joined" && v["from"] == name)
            .await;
    }

    // Each flooder writes its burst at once ("f<i> <n> " padded to 100
    // bytes), then reads and discards what it is sent, as a normal client
    // does (so the kernel need not hold megabytes for each).
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in flooders.into_iter().enumerate() {
        let mut burst = Vec::new();
        for n in 0..EACH {
            let mut text = format!("f{i} {n} ");
            text.extend(std::iter::repeat_n('x', 100 - text.len()));
            burst.extend_from_slice(&encode(0, &ClientMsg::Say { text }, &[]).0);
        }
        tasks.spawn(async move {
            let mut socket = c.framed.into_inner();
            socket.write_all(&burst).await.unwrap();
            let mut scratch = vec![0u8; 64 * 1024];
            while matches!(socket.read(&mut scratch).await, Ok(n) if n > 0) {}
        });
    }

    // Every line the watcher prints is one of those messages, each sender's
    // in order: nothing lost, and no `disconnected`, `reconnecting` or
    // error line in between.
    let started = std::time::Instant::now();
    let mut next = vec![0usize; FLOODERS];
    for _ in 0..FLOODERS * EACH {
        let line = watcher.expect(|_| true).await;
        assert_eq!(line["kind"], "message", "{line}");
        let from = line["from"].as_str().unwrap();
        let text = line["text"].as_str().unwrap();
        let mut words = text.split(' ');
        assert_eq!(words.next(), Some(from), "{line}");
        let i: usize = from[1..].parse().unwrap();
        let n: usize = words.next().unwrap().parse().unwrap();
        assert_eq!(n, next[i], "messages of {from} in order");
        next[i] += 1;
    }
    assert!(next.iter().all(|&n| n == EACH));
    eprintln!(
        "{} messages printed in {:?}",
        FLOODERS * EACH,
        started.elapsed()
    );

    // Still on its first connection: its own message comes back, and it
    // never joined again.
    watcher.send("still here").await;
    watcher.expect_message("watcher", "still here").await;
    let welcomes = watcher.seen.iter().filter(|v| v["kind"] == "welcome");
    assert_eq!(welcomes.count(), 1);
    let (status, rest, stderr) = watcher.finish().await;
    assert!(status.success(), "{stderr}");
    assert!(rest.iter().all(|v| v["kind"] != "disconnected"), "{rest:?}");
}
