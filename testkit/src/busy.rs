//! [`RawClient`] in a busy room: wait for one thing, skipping the rest.
//!
//! `RawClient`'s own readers are strict (the next frame must be the expected
//! one), which suits tests of the core itself. A test of something in front of
//! the core (the gateway) cannot know what else the room sends meanwhile:
//! other users join, leave, talk, and after 20 s of silence the core pings. The
//! `until_*` readers here skip what the test is not about and answer pings as a
//! real client would, so a slow machine does not turn a ping into a failure.

use protocol::{ClientMsg, Event, EventBody, FileKind, ServerMsg, Target, codec::Frame};

use crate::{RawClient, sha256};

impl RawClient {
    /// Reads until `pick` returns something, answering pings on the way. Each
    /// frame must come within [`crate::WAIT`].
    pub async fn until_msg<T>(&mut self, mut pick: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        loop {
            let frame = self.recv_answering_pings().await;
            if let Some(t) = pick(&frame.msg) {
                return t;
            }
        }
    }

    /// Reads until an event's body matches `pick`, skipping everything else.
    pub async fn until_event<T>(&mut self, mut pick: impl FnMut(&EventBody) -> Option<T>) -> T {
        self.until_msg(|msg| match msg {
            ServerMsg::Event(Event { event, .. }) => pick(event),
            _ => None,
        })
        .await
    }

    /// Waits for a room message with this text; returns its sender.
    pub async fn until_message(&mut self, text: &str) -> String {
        self.until_event(|event| match event {
            EventBody::Message { from, text: t } if t == text => Some(from.clone()),
            _ => None,
        })
        .await
    }

    /// Sends a whole file (offer, chunks, end) as `id` and waits until the core
    /// accepts it; fails the test if the core refuses it.
    pub async fn send_file_accepted(
        &mut self,
        id: u32,
        to: Target,
        name: &str,
        kind: FileKind,
        bytes: &[u8],
    ) {
        self.send_file(id, to, name, kind, bytes).await;
        self.until_msg(|msg| match msg {
            ServerMsg::FileAccepted { id: i, .. } if *i == id => Some(()),
            ServerMsg::FileFailed { id: i, message, .. } if *i == id => {
                panic!("file refused: {message}")
            }
            _ => None,
        })
        .await;
    }

    /// Waits for the next incoming file and receives it whole, skipping other
    /// traffic; checks its SHA-256. Returns (from, name, bytes).
    pub async fn until_file(&mut self) -> (String, String, Vec<u8>) {
        let (from, name, transfer, sha) = self
            .until_event(|event| match event {
                EventBody::File {
                    from,
                    name,
                    transfer,
                    sha256,
                    ..
                } => Some((from.clone(), name.clone(), *transfer, sha256.clone())),
                _ => None,
            })
            .await;
        let mut bytes = Vec::new();
        loop {
            let frame = self.recv_answering_pings().await;
            match frame.msg {
                ServerMsg::FileChunk { transfer: t } if t == transfer => {
                    bytes.extend_from_slice(&frame.payload)
                }
                ServerMsg::FileEnd { transfer: t } if t == transfer => break,
                ServerMsg::FileAbort {
                    transfer: t,
                    message,
                    ..
                } if t == transfer => panic!("file aborted: {message}"),
                _ => {}
            }
        }
        assert_eq!(sha256(&bytes), sha, "{name}: received bytes differ");
        (from, name, bytes)
    }

    /// The next frame that is not a ping (those are answered).
    async fn recv_answering_pings(&mut self) -> Frame<ServerMsg> {
        loop {
            let frame = self.recv().await;
            match frame.msg {
                ServerMsg::Ping { nonce } => self.send(ClientMsg::Pong { nonce }).await,
                _ => return frame,
            }
        }
    }
}
