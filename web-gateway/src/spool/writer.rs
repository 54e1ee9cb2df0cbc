//! The writer of one file arriving from the core for browser users: a task
//! per file writes its chunks to the spool as the link hands them over (a
//! small queue between them, so a slow disk slows that transfer and not the
//! whole link's reading for long), then has the spool check and publish it,
//! and tells the recipients' pages: the file, or why it could not be received.

use bytes::Bytes;
use protocol::{Event, EventBody, SessionId};
use tokio::sync::mpsc;

use super::Spool;
use crate::{
    browser::TimelineEvent,
    sessions::{Hub, target_name},
};

/// Chunks buffered per incoming file between the link and its writer.
const SPOOL_QUEUE: usize = 32;

/// A piece of an incoming file, for its writer.
enum Piece {
    Chunk(Bytes),
    End,
}

/// Handle to the writer task of one incoming file. Dropping it before
/// [`FileWriter::end`] (the transfer was aborted, the link dropped) makes the
/// writer discard the partial file.
pub struct FileWriter {
    pieces: mpsc::Sender<Piece>,
}

impl FileWriter {
    /// Starts a writer for the file `ev` announces, fetchable by `grants`;
    /// returns its transfer id and the handle to send its chunks to. `None`
    /// when `ev` is not a file or nobody here may receive it.
    pub fn start(
        ev: &Event,
        grants: Vec<SessionId>,
        hub: &Hub,
        spool: &Spool,
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
        let (tx, mut rx) = mpsc::channel(SPOOL_QUEUE);
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

    /// Hands a chunk to the writer, waiting while its queue is full. `false`:
    /// the writer has given up on this file (its recipients were told why).
    pub async fn chunk(&self, bytes: Bytes) -> bool {
        self.pieces.send(Piece::Chunk(bytes)).await.is_ok()
    }

    /// The last chunk came: the writer checks the file and publishes it.
    pub async fn end(self) {
        let _ = self.pieces.send(Piece::End).await;
    }
}
