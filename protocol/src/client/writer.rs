//! The writer of a client connection: two bounded queues, control (chat,
//! joins, pongs) and files (offers, chunks, ends), and a task that always
//! drains control first, so a message typed during a big upload goes out now
//! and not after the next hundred chunks.

use futures_util::{Sink, SinkExt};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    ClientMsg,
    codec::{CodecError, Frame},
};

/// Most frames written between two flushes while both queues stay busy.
const BATCH: usize = 64;

/// Writes what arrives on `control` and `files` to `sink`, control first,
/// in batches, flushing whenever both queues are empty. `frame_of` turns a
/// queued item into the frame to write, or `None` to drop it (the gateway
/// drops frames made for an earlier connection).
///
/// Returns `Ok` once `control` is closed and everything queued on it is
/// written (then closes the sink); `Err` when writing fails. The receivers
/// are borrowed, so what is still queued survives for the next connection.
pub async fn write_queued<S, T>(
    sink: &mut S,
    control: &mut mpsc::Receiver<T>,
    files: &mut mpsc::Receiver<T>,
    mut frame_of: impl FnMut(T) -> Option<Frame<ClientMsg>>,
) -> Result<(), CodecError>
where
    S: Sink<Frame<ClientMsg>, Error = CodecError> + Unpin,
{
    loop {
        let first = tokio::select! {
            // Chat first.
            biased;
            item = control.recv() => match item {
                Some(item) => item,
                None => break,
            },
            Some(item) = files.recv() => item,
        };
        let mut next = Some(first);
        let mut fed = 0;
        while let Some(item) = next.take() {
            if let Some(frame) = frame_of(item) {
                sink.feed(frame).await?;
                fed += 1;
            }
            if fed < BATCH {
                next = control.try_recv().or_else(|_| files.try_recv()).ok();
            }
        }
        sink.flush().await?;
    }
    sink.close().await
}

/// Where a simple client queues frames for its writer task.
#[derive(Clone)]
pub struct Outbox {
    /// Chat and control frames: always sent first.
    pub control: mpsc::Sender<Frame<ClientMsg>>,
    /// File offers, chunks and ends. Small on purpose: senders wait here, so
    /// a file never sits in memory and chat never waits behind many chunks.
    pub files: mpsc::Sender<Frame<ClientMsg>>,
}

/// Starts a writer task for `sink` with queues of `control` and `files`
/// frames. The task ends when every [`Outbox`] is dropped (after flushing
/// what is queued) or when writing fails.
pub fn spawn_writer<S>(
    mut sink: S,
    control: usize,
    files: usize,
) -> (Outbox, JoinHandle<Result<(), CodecError>>)
where
    S: Sink<Frame<ClientMsg>, Error = CodecError> + Unpin + Send + 'static,
{
    let (control_tx, mut control_rx) = mpsc::channel(control);
    let (files_tx, mut files_rx) = mpsc::channel(files);
    let task =
        tokio::spawn(
            async move { write_queued(&mut sink, &mut control_rx, &mut files_rx, Some).await },
        );
    (
        Outbox {
            control: control_tx,
            files: files_tx,
        },
        task,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::sink::drain;

    #[tokio::test]
    async fn control_overtakes_queued_chunks() {
        let (control_tx, mut control_rx) = mpsc::channel(8);
        let (files_tx, mut files_rx) = mpsc::channel(8);
        for id in 0..4 {
            files_tx
                .send(Frame::new(ClientMsg::FileChunk { id }))
                .await
                .unwrap();
        }
        control_tx
            .send(Frame::new(ClientMsg::Say { text: "hi".into() }))
            .await
            .unwrap();
        drop(control_tx);
        let mut order = Vec::new();
        let mut sink = drain().sink_map_err(|never| match never {});
        write_queued(
            &mut sink,
            &mut control_rx,
            &mut files_rx,
            |f: Frame<ClientMsg>| {
                order.push(f.msg.clone());
                Some(f)
            },
        )
        .await
        .unwrap();
        assert_eq!(order[0], ClientMsg::Say { text: "hi".into() });
        assert!(
            order[1..]
                .iter()
                .all(|m| matches!(m, ClientMsg::FileChunk { .. }))
        );
    }
}
