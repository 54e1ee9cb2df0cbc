//! One file being received into the spool: written chunk by chunk, hashed and
//! counted as it arrives, published (made fetchable) only when its size and
//! SHA-256 match what was announced, and removed if it is dropped before.

use std::{path::Path, time::Instant};

use protocol::{SNIFF_LEN, sniff_image};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Spool, SpoolError, Stored, remove_entry};

/// The type every file that is not a sniffed image is served with.
pub const OPAQUE_MIME: &str = "application/octet-stream";

/// A file being received. Dropped before [`Incoming::finish`] succeeds, it
/// removes the partial file and frees its reservation.
pub struct Incoming {
    /// To publish or clean up the entry.
    spool: Spool,
    /// The entry's key and file name (the URL's secret).
    token: String,
    /// Open while bytes arrive; closed before the file is published.
    file: Option<tokio::fs::File>,
    /// SHA-256 of what arrived, checked at the end.
    hasher: Sha256,
    written: u64,
    /// The announced size: more is an error, less at the end too.
    expected: u64,
    /// The first bytes, to decide whether this is an image.
    head: Vec<u8>,
    /// Published: dropping must not remove it.
    done: bool,
}

impl Incoming {
    /// Creates the file at `path` for the entry `token` that
    /// [`Spool::begin`] reserved.
    pub(super) async fn create(
        spool: Spool,
        token: String,
        path: &Path,
        expected: u64,
    ) -> Result<Incoming, SpoolError> {
        let mut incoming = Incoming {
            spool,
            token,
            file: None,
            hasher: Sha256::new(),
            written: 0,
            expected,
            head: Vec::with_capacity(SNIFF_LEN),
            done: false,
        };
        // Created after `incoming`: if this fails, dropping it frees the
        // reservation.
        incoming.file = Some(tokio::fs::File::create(path).await?);
        Ok(incoming)
    }

    /// Appends a chunk (more than the announced size is an error, and so is
    /// a chunk the spool has no room for).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), SpoolError> {
        if self.written + chunk.len() as u64 > self.expected {
            return Err(SpoolError::Mismatch);
        }
        self.spool.reserve(&self.token, chunk.len() as u64)?;
        self.written += chunk.len() as u64;
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        let file = self.file.as_mut().expect("open until finish");
        file.write_all(chunk).await?;
        Ok(())
    }

    /// Checks size and SHA-256, then makes the file fetchable.
    pub async fn finish(mut self, sha256: &str) -> Result<Stored, SpoolError> {
        let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if self.written != self.expected || !digest.eq_ignore_ascii_case(sha256) {
            return Err(SpoolError::Mismatch);
        }
        let mut file = self.file.take().expect("open until finish");
        file.flush().await?;
        drop(file);
        let image = sniff_image(&self.head);
        let inline = image.is_some();
        // Only the four image types a browser shows inline keep a type of
        // their own. Anything else is served as opaque bytes: with its
        // guessed type a `.js` would load as a same-origin script (CSP
        // `script-src 'self'`), an `.html` render in our origin.
        let mime = match image {
            Some(image) => image.mime().to_string(),
            None => OPAQUE_MIME.to_string(),
        };
        let mut st = self.spool.state();
        let entry = st.files.get_mut(&self.token).ok_or(SpoolError::Mismatch)?;
        entry.mime = mime.clone();
        entry.inline = inline;
        entry.complete = true;
        entry.created = Instant::now();
        self.done = true;
        if entry.grants.is_empty() {
            // Everyone it was for left while it arrived.
            remove_entry(&mut st, &self.token);
        }
        Ok(Stored {
            url: format!("/files/{}", self.token),
            mime,
            inline,
        })
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.done {
            remove_entry(&mut self.spool.state(), &self.token);
        }
    }
}
