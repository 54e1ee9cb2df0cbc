//! Scenario 5, files: one large transfer (100 MiB by default) to one user,
//! and, while it runs, chat messages from a third user to the same recipient.
//! Reports the transfer's throughput and the chat latency: if chat frames
//! queued behind file chunks (head-of-line blocking), its p99 would show it.
//!
//! The file's bytes are generated chunk by chunk (never held whole), hashed
//! up front for the offer, and hashed again on arrival: a throughput figure
//! only counts if the bytes are identical.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use protocol::{CHUNK_SIZE, ClientMsg, EventBody, FileKind, ServerMsg, Target as To, codec::Frame};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::{
    Error,
    client::{self, Command, Target, http::Gateway, native},
    metrics::{Kind, Recorder},
    procfs::Server,
    report::Report,
};

/// Longest a transfer may take before the scenario gives up on it.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct Params {
    pub size_mib: u64,
    /// Chat messages per second sent to the recipient during the transfer.
    pub chat_rate: f64,
    pub chat_size: usize,
}

/// Chunk `i` of the benchmark file: deterministic pseudo-random bytes
/// (xorshift), so sender and checker agree without storing the file.
pub fn chunk(i: u64, len: usize) -> Bytes {
    let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// The chunks of a file of `size` bytes, as (index, length).
fn chunk_lengths(size: u64) -> impl Iterator<Item = (u64, usize)> {
    let chunk = CHUNK_SIZE as u64;
    (0..size.div_ceil(chunk)).map(move |i| (i, (size - i * chunk).min(chunk) as usize))
}

/// SHA-256 of the whole benchmark file, computed chunk by chunk.
pub fn file_sha256(size: u64) -> String {
    let mut hasher = Sha256::new();
    for (i, len) in chunk_lengths(size) {
        hasher.update(chunk(i, len));
    }
    hex::encode(hasher.finalize())
}

pub async fn run(target: &Target, server: &Server, params: &Params) -> Vec<Report> {
    let (case, core, via) = match target {
        Target::Native { addr } => ("TCP→TCP", *addr, Via::Tcp),
        Target::Gateway { base, core } => ("upload→TCP", *core, Via::Upload(base.clone())),
        _ => {
            let mut report = Report::new("files", "transfer", target.system());
            report.note("files are a Switchboard feature; no peer runs this scenario");
            return vec![report];
        }
    };
    let mut report = Report::new(
        "files",
        format!("{case} {} MiB", params.size_mib),
        target.system(),
    );
    server.settle(Duration::from_secs(30)).await;
    match transfer(core, via, server, params).await {
        Ok(result) => result.add_to(&mut report),
        Err(e) => {
            report.note(format!("could not run: {e}"));
        }
    }
    vec![report]
}

/// How the file enters Switchboard.
enum Via {
    /// A native client's `file_offer` + chunks.
    Tcp,
    /// A browser's form upload to the gateway at this base URL.
    Upload(String),
}

/// What a transfer measured.
struct Transfer {
    size: u64,
    elapsed: Duration,
    identical: bool,
    chat_sent: u64,
    chat_received: u64,
    chat: crate::metrics::Latency,
    cpu_secs: Option<f64>,
    rss_peak_kib: Option<u64>,
}

impl Transfer {
    fn add_to(&self, report: &mut Report) {
        let mib = self.size as f64 / (1024.0 * 1024.0);
        report
            .figure("throughput MiB/s", mib / self.elapsed.as_secs_f64())
            .figure("transfer s", self.elapsed.as_secs_f64())
            .figure(
                "bytes identical (1 = yes)",
                f64::from(u8::from(self.identical)),
            )
            .figure("chat messages during transfer", self.chat_sent as f64)
            .figure("chat p50 ms", self.chat.p50_ms)
            .figure("chat p99 ms", self.chat.p99_ms)
            .figure("chat max ms", self.chat.max_ms)
            .figure(
                "chat lost",
                (self.chat_sent - self.chat_received.min(self.chat_sent)) as f64,
            )
            .figure("server CPU s", self.cpu_secs)
            .figure(
                "server peak RSS MiB",
                self.rss_peak_kib.map(|k| k as f64 / 1024.0),
            );
        if !self.identical {
            report.note("the received bytes did NOT match the sent file");
        }
    }
}

/// A sends the file to B (over TCP or by upload through the gateway); B and
/// C are TCP users of the core, C chats to B meanwhile.
async fn transfer(
    addr: SocketAddr,
    via: Via,
    server: &Server,
    params: &Params,
) -> Result<Transfer, Error> {
    let size = params.size_mib * 1024 * 1024;
    let sha256 = file_sha256(size);
    let rec = Arc::new(Recorder::new(3));
    let prefix = format!("f{}", std::process::id() % 1000);
    let (a_name, b_name, c_name) = (
        format!("{prefix}a"),
        format!("{prefix}b"),
        format!("{prefix}c"),
    );
    let mut sender = match &via {
        Via::Tcp => {
            let (conn, limits) = native::join_with_limits(addr, &a_name).await?;
            Sender::Tcp(conn, limits.file_window)
        }
        Via::Upload(base) => {
            let gateway = Gateway::resolve(base).await?;
            let cookie = gateway.join(&a_name).await?;
            let csrf = gateway.csrf(&cookie).await?;
            Sender::Upload {
                gateway,
                cookie,
                csrf,
            }
        }
    };
    let receiver = native::join(addr, &b_name).await?;
    let chatter = client::connect(&Target::Native { addr }, 2, c_name, rec.clone()).await?;

    let before = server.sample();
    let watch = super::RssWatch::start(server);
    let done = CancellationToken::new();
    let stop_receiver = CancellationToken::new();
    let (finished_tx, finished) = oneshot::channel();
    let receiving = tokio::spawn(receive_file(
        receiver,
        rec.clone(),
        finished_tx,
        stop_receiver.clone(),
    ));
    let chatting = {
        let commands = chatter.commands();
        let rec = rec.clone();
        let done = done.clone();
        let (to, rate, chat_size) = (b_name.clone(), params.chat_rate, params.chat_size);
        tokio::spawn(async move {
            let start = Instant::now();
            let mut sent = 0u64;
            while !done.is_cancelled() {
                let due = start + Duration::from_secs_f64(sent as f64 / rate);
                tokio::select! {
                    _ = done.cancelled() => break,
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
                let text = rec.stamp(2, sent, Kind::Measured, chat_size);
                if commands
                    .send(Command::Private {
                        to: to.clone(),
                        text,
                    })
                    .await
                    .is_err()
                {
                    break;
                }
                sent += 1;
            }
            sent
        })
    };

    let start = Instant::now();
    let sending = sender.send_file(&b_name, size, &sha256);
    let sent = tokio::time::timeout(TRANSFER_TIMEOUT, sending).await;
    if !matches!(sent, Ok(Ok(()))) {
        done.cancel();
        stop_receiver.cancel();
    }
    sent.map_err(|_| Error::Timeout("sending the file".into()))??;
    let received = tokio::time::timeout(TRANSFER_TIMEOUT, finished).await;
    let elapsed = start.elapsed();
    done.cancel();
    let chat_sent = chatting.await.unwrap_or(0);
    // Give the last chat messages their chance to arrive before counting.
    rec.drain(chat_sent, Duration::from_secs(2), Duration::from_secs(10))
        .await;
    stop_receiver.cancel();
    let _ = receiving.await;
    let received = received
        .map_err(|_| Error::Timeout("file transfer".into()))?
        .map_err(|_| Error::Closed("file transfer"))??;
    let after = server.sample();
    let rss = watch.stop();
    sender.quit().await;
    chatter.quit(Duration::from_secs(5)).await;
    Ok(Transfer {
        size,
        elapsed,
        identical: received.bytes == size && received.sha256 == sha256,
        chat_sent,
        chat_received: rec.received_total(),
        chat: rec.delivery(),
        cpu_secs: before.zip(after).map(|(b, a)| a.cpu_secs - b.cpu_secs),
        rss_peak_kib: rss.map(|r| r.1),
    })
}

/// The file's sender.
enum Sender {
    /// A native connection and the server's credit window.
    Tcp(native::Conn, u64),
    Upload {
        gateway: Gateway,
        cookie: String,
        csrf: String,
    },
}

impl Sender {
    /// Sends the benchmark file of `size` bytes to user `to`, streamed.
    async fn send_file(&mut self, to: &str, size: u64, sha256: &str) -> Result<(), Error> {
        match self {
            Sender::Tcp(conn, window) => {
                conn.send(Frame::new(ClientMsg::FileOffer {
                    id: 1,
                    to: To::User(to.to_string()),
                    name: "bench.bin".into(),
                    size,
                    sha256: sha256.to_string(),
                    kind: FileKind::File,
                }))
                .await?;
                // Flow control: a chunk only with credit for it, which the
                // server grants as the recipient consumes.
                let mut credit = *window;
                for (i, len) in chunk_lengths(size) {
                    while credit < len as u64 {
                        SinkExt::<Frame<ClientMsg>>::flush(conn).await?;
                        credit += wait_credit(conn).await?;
                    }
                    credit -= len as u64;
                    conn.feed(
                        Frame::new(ClientMsg::FileChunk { id: 1 }).with_payload(chunk(i, len)),
                    )
                    .await?;
                }
                conn.send(Frame::new(ClientMsg::FileEnd { id: 1 })).await?;
                Ok(())
            }
            Sender::Upload {
                gateway,
                cookie,
                csrf,
            } => {
                let chunks =
                    futures_util::stream::iter(chunk_lengths(size)).map(|(i, len)| chunk(i, len));
                gateway
                    .upload(cookie, csrf, to, "bench.bin", size, chunks)
                    .await
            }
        }
    }

    async fn quit(self) {
        if let Sender::Tcp(mut conn, _) = self {
            let _ = conn.send(Frame::new(ClientMsg::Quit)).await;
        }
    }
}

/// Reads the sender's connection until the server grants credit (answering
/// pings); returns the bytes granted.
async fn wait_credit(conn: &mut native::Conn) -> Result<u64, Error> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), conn.next())
            .await
            .map_err(|_| Error::Timeout("file credit".into()))?;
        match frame {
            Some(Ok(frame)) => match frame.msg {
                ServerMsg::FileCredit { bytes, .. } => return Ok(bytes),
                ServerMsg::FileFailed { message, .. } => {
                    return Err(Error::Refused(format!("file failed: {message}")));
                }
                ServerMsg::Ping { nonce } => {
                    conn.send(Frame::new(ClientMsg::Pong { nonce })).await?;
                }
                _ => {}
            },
            Some(Err(e)) => return Err(e.into()),
            None => return Err(Error::Closed("file transfer")),
        }
    }
}

/// What the recipient got.
struct Received {
    bytes: u64,
    sha256: String,
}

/// The recipient: hashes chunks as they come and reports the file on
/// `finished`, and reports chat texts until `stop`.
async fn receive_file(
    mut conn: native::Conn,
    rec: Arc<Recorder>,
    finished: oneshot::Sender<Result<Received, Error>>,
    stop: CancellationToken,
) {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut finished = Some(finished);
    let mut report = |result: Result<Received, Error>| {
        if let Some(tx) = finished.take() {
            let _ = tx.send(result);
        }
    };
    loop {
        let frame = tokio::select! {
            frame = conn.next() => frame,
            _ = stop.cancelled() => break,
        };
        let frame = match frame {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return report(Err(e.into())),
            None => return report(Err(Error::Closed("file transfer"))),
        };
        match frame.msg {
            ServerMsg::FileChunk { transfer } => {
                bytes += frame.payload.len() as u64;
                hasher.update(&frame.payload);
                // Consumed: the server may send as much again.
                let credit = ClientMsg::FileCredit {
                    transfer,
                    bytes: frame.payload.len() as u64,
                };
                if let Err(e) = conn.send(Frame::new(credit)).await {
                    return report(Err(e.into()));
                }
            }
            ServerMsg::FileEnd { .. } => report(Ok(Received {
                bytes,
                sha256: hex::encode(hasher.finalize_reset()),
            })),
            ServerMsg::FileAbort { code, message, .. } => report(Err(Error::Refused(format!(
                "file aborted: {code:?}: {message}"
            )))),
            ServerMsg::Event(event) => {
                if let EventBody::Private { text, .. } = event.event {
                    rec.on_text(1, &text);
                }
            }
            ServerMsg::Ping { nonce } => {
                let _ = conn.send(Frame::new(ClientMsg::Pong { nonce })).await;
            }
            _ => {}
        }
    }
    let _ = conn.send(Frame::new(ClientMsg::Quit)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_deterministic_and_chunked_exactly() {
        assert_eq!(chunk(3, 100), chunk(3, 100));
        assert_ne!(chunk(3, 100), chunk(4, 100));
        let lengths: Vec<_> = chunk_lengths(CHUNK_SIZE as u64 * 2 + 5).collect();
        assert_eq!(lengths, vec![(0, CHUNK_SIZE), (1, CHUNK_SIZE), (2, 5)]);
        assert_eq!(chunk_lengths(0).count(), 0);
        assert_eq!(file_sha256(10), file_sha256(10));
    }
}
