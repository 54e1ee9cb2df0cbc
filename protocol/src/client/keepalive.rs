//! Reading from a server with a silence timeout. The server pings a quiet
//! client and drops one that does not answer; a client does the same for the
//! server, so a dead link (a half-open TCP connection, a frozen server) is
//! noticed in bounded time instead of never.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, sleep_until};

use crate::{
    ClientMsg, ServerMsg,
    codec::{CodecError, Frame},
};

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the server closed the connection")]
    Closed,
    #[error("the server said nothing for too long")]
    Silent,
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// The silence bookkeeping of one connection.
#[derive(Debug)]
pub struct KeepAlive {
    /// Silence after which we ping; twice this and the server is dead.
    every: Duration,
    /// When the server was last heard from.
    heard: Instant,
    /// Whether our ping is out and unanswered.
    pinged: bool,
}

/// The nonce of the keep-alive pings (callers that ping for their own
/// reasons use others and see their pongs).
pub const KEEPALIVE_NONCE: u64 = 0;

impl KeepAlive {
    pub fn new(every: Duration) -> KeepAlive {
        KeepAlive {
            every,
            heard: Instant::now(),
            pinged: false,
        }
    }

    /// The next frame from `stream`. The server's pings are answered through
    /// `send` (with the ping's session) and not returned, nor are pongs to
    /// our keep-alive pings; after `every` of silence a ping goes out through
    /// `send`, and after another `every` this gives up with
    /// [`ReadError::Silent`].
    ///
    /// Cancel-safe: the silence deadline lives in `self`, so calling this in
    /// a `select!` loop that often wakes for other reasons does not push it
    /// back.
    pub async fn next<St>(
        &mut self,
        stream: &mut St,
        mut send: impl FnMut(Frame<ClientMsg>),
    ) -> Result<Frame<ServerMsg>, ReadError>
    where
        St: Stream<Item = Result<Frame<ServerMsg>, CodecError>> + Unpin,
    {
        loop {
            let deadline = self.heard
                + if self.pinged {
                    self.every * 2
                } else {
                    self.every
                };
            tokio::select! {
                frame = stream.next() => {
                    self.heard = Instant::now();
                    self.pinged = false;
                    let frame = frame.ok_or(ReadError::Closed)??;
                    match frame.msg {
                        ServerMsg::Ping { nonce } => {
                            send(Frame::new(ClientMsg::Pong { nonce }).with_session(frame.session));
                        }
                        ServerMsg::Pong { nonce: KEEPALIVE_NONCE } => {}
                        _ => return Ok(frame),
                    }
                }
                _ = sleep_until(deadline) => {
                    if self.pinged {
                        return Err(ReadError::Silent);
                    }
                    self.pinged = true;
                    send(Frame::new(ClientMsg::Ping { nonce: KEEPALIVE_NONCE }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[tokio::test(start_paused = true)]
    async fn pings_a_quiet_server_then_gives_up() {
        let mut silent = stream::pending::<Result<Frame<ServerMsg>, CodecError>>();
        let mut keepalive = KeepAlive::new(Duration::from_secs(10));
        let mut sent = Vec::new();
        let start = Instant::now();
        let err = keepalive
            .next(&mut silent, |f| sent.push(f.msg))
            .await
            .unwrap_err();
        assert!(matches!(err, ReadError::Silent));
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        assert_eq!(
            sent,
            vec![ClientMsg::Ping {
                nonce: KEEPALIVE_NONCE
            }]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_pings_and_returns_the_rest() {
        let frames = vec![
            Ok(Frame::new(ServerMsg::Ping { nonce: 7 }).with_session(3)),
            Ok(Frame::new(ServerMsg::Pong { nonce: 9 })),
        ];
        let mut frames = stream::iter(frames);
        let mut keepalive = KeepAlive::new(Duration::from_secs(10));
        let mut sent = Vec::new();
        let frame = keepalive.next(&mut frames, |f| sent.push(f)).await.unwrap();
        assert_eq!(frame.msg, ServerMsg::Pong { nonce: 9 });
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].session, 3);
        assert_eq!(sent[0].msg, ClientMsg::Pong { nonce: 7 });
        let end = keepalive.next(&mut frames, |_| {}).await.unwrap_err();
        assert!(matches!(end, ReadError::Closed));
    }
}
