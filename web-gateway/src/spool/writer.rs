//! The writer of one file arriving from the core for browser users: a task
//! per file writes its chunks to the spool as the link hands them over and
//! credits each one back to the core once written (flow control: a slow disk
//! slows that transfer only, and the link never waits), then has the spool
//! check and publish it, and tells the recipients' pages: the file, or why it
//! could not be received.

use bytes::Bytes;
use protocol::{ClientMsg, Event, EventBody, SessionId};
use tokio::sync::mpsc;

use super::Spool;
use crate::{
    browser::TimelineEvent,
    link::LinkSession,
    sessions::{Hub, target_name},
};

/// A piece of an incoming file, for its writer.
enum Piece {
    Chunk(Bytes),
    End,
}

/// Handle to the writer task of one incoming file. Dropping it before
/// [`FileWriter::end`] (the transfer was aborted, the link dropped) makes the
/// writer discard the partial file.
pub struct FileWriter {
    /// Unbounded in frames, bounded in bytes: the core sends no more than the
    /// credit window before this writer credits it back.
    pieces: mpsc::UnboundedSender<Piece>,
}

impl FileWriter {
    /// Starts a writer for the file `ev` announces, fetchable by `grants`;
    /// returns its transfer id and the handle to send its chunks to. Credit
    /// goes back on `link` as `session` (the session the file came on: 0 for
    /// a room-wide file). `None` when `ev` is not a file or nobody here may
    /// receive it.
    pub fn start(
        ev: &Event,
        grants: Vec<SessionId>,
        hub: &Hub,
        spool: &Spool,
        link: LinkSession,
        session: SessionId,
    ) -> Option<(u64, FileWriter)> {
        let EventBody::File {
            from,
            to,
            transfer,
            name,
            size,
            sha256,
            kind,
        } = ev.event.clone()
        else {
            return None;
        };
        if grants.is_empty() {
            return None;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let hub = hub.clone();
        let spool = spool.clone();
        let ts = ev.ts;
        tokio::spawn(async move {
            let fail = |e: &dyn std::fmt::Display| {
                hub.notice(
                    &grants,
                    &format!("the file {name} from {from} could not be received: {e}"),
                );
            };
            let mut incoming = match spool.begin(&name, size, grants.clone()).await {
                Ok(incoming) => incoming,
                Err(e) => return fail(&e),
            };
            while let Some(piece) = rx.recv().await {
                match piece {
                    Piece::Chunk(bytes) => {
                        if let Err(e) = incoming.write(&bytes).await {
                            return fail(&e);
                        }
                        let credit = ClientMsg::FileCredit {
                            transfer,
                            bytes: bytes.len() as u64,
                        };
                        if link.send(session, credit).await.is_err() {
                            return; // the link changed: this transfer is gone
                        }
                    }
                    Piece::End => {
                        match incoming.finish(&sha256).await {
                            Ok(stored) => hub.deliver_file(
                                &grants,
                                &TimelineEvent::File {
                                    ts,
                                    from,
                                    to: target_name(&to),
                                    name,
                                    size,
                                    kind,
                                    mime: stored.mime,
                                    url: stored.url,
                                    inline: stored.inline,
                                },
                            ),
                            Err(e) => fail(&e),
                        }
                        return;
                    }
                }
            }
            // The transfer was aborted or the link dropped: `incoming` is
            // dropped and removes the partial file.
        });
        Some((transfer, FileWriter { pieces: tx }))
    }

    /// Hands a chunk to the writer, never waiting. `false`: the writer has
    /// given up on this file (its recipients were told why).
    pub fn chunk(&self, bytes: Bytes) -> bool {
        self.pieces.send(Piece::Chunk(bytes)).is_ok()
    }

    /// The last chunk came: the writer checks the file and publishes it.
    pub fn end(self) {
        let _ = self.pieces.send(Piece::End);
    }
}
