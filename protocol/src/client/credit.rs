//! A sender's credit for one transfer (protocol v2 flow control): the bytes it
//! may still send. The offer grants `limits.file_window`; each `file_credit`
//! from the server grants more. A task streaming a file waits here before each
//! chunk, so it never sends beyond its credit and the server never has to
//! stop reading the connection.
//!
//! A semaphore whose permits are bytes: waiting is fair and cancel-safe, and
//! closing it (the transfer is over: failed, or every recipient answered)
//! wakes the waiting task with `None`.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::CHUNK_SIZE;

/// Credit for one outgoing transfer. Cheap to clone: the reader that sees
/// `file_credit` grants, the task streaming the file takes.
#[derive(Debug, Clone)]
pub struct SendCredit {
    /// Permits are bytes the sender may still send.
    bytes: Arc<Semaphore>,
}

/// The largest piece a sender takes at once: a chunk, and never more than a
/// semaphore grants in one call.
const MAX_TAKE: u64 = CHUNK_SIZE as u64;

impl SendCredit {
    /// The credit an accepted offer starts with: the server's `file_window`.
    pub fn new(window: u64) -> SendCredit {
        SendCredit {
            bytes: Arc::new(Semaphore::new(clamp(window))),
        }
    }

    /// The server's `file_credit`: `bytes` more may be sent.
    pub fn grant(&self, bytes: u64) {
        let room = Semaphore::MAX_PERMITS - self.bytes.available_permits();
        self.bytes.add_permits(clamp(bytes).min(room));
    }

    /// The transfer is over (it failed, was cancelled, or every recipient
    /// answered): a waiting [`take`](Self::take) returns `None`.
    pub fn close(&self) {
        self.bytes.close();
    }

    /// Waits until `len` bytes (at most one chunk) may be sent and uses them
    /// up. `None` once the transfer is over. A sender asks for
    /// `min(CHUNK_SIZE, bytes left)`, which the window always covers.
    pub async fn take(&self, len: usize) -> Option<()> {
        let len = (len as u64).min(MAX_TAKE) as u32;
        let permit = self.bytes.acquire_many(len).await.ok()?;
        permit.forget();
        Some(())
    }
}

fn clamp(bytes: u64) -> usize {
    bytes.min(Semaphore::MAX_PERMITS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sender_waits_for_credit_and_stops_when_closed() {
        let credit = SendCredit::new(100);
        assert_eq!(credit.take(60).await, Some(()));
        let waiting = {
            let credit = credit.clone();
            tokio::spawn(async move { credit.take(60).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        credit.grant(20);
        assert_eq!(waiting.await.unwrap(), Some(()));
        let waiting = {
            let credit = credit.clone();
            tokio::spawn(async move { credit.take(10).await })
        };
        credit.close();
        assert_eq!(waiting.await.unwrap(), None);
    }
}
