//! Files received by browser users, kept on disk until they expire: a size cap,
//! unguessable URLs, and a list of the sessions allowed to fetch each one.
//!
//! A transfer from the core is written chunk by chunk ([`Incoming`]) and becomes
//! fetchable only when its size and SHA-256 match (a partial file is never
//! served). Space is reserved as bytes arrive, not from the declared size at
//! the offer: a sender that declares a large file and then goes quiet holds
//! only what it sent (until the core's `--transfer-idle-timeout` aborts it),
//! so it cannot make the spool refuse everyone else's files. The cap holds
//! while transfers run: a chunk that would pass it fails its file.
//!
//! - `mod.rs` (this file): the [`Spool`] handle: reservations, grants, expiry,
//!   lookups for downloads.
//! - `incoming.rs`: [`Incoming`], one file being written, checked, published.
//! - `writer.rs`: [`FileWriter`], the task that feeds an [`Incoming`] with the
//!   chunks the link receives and tells the recipients' pages.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use protocol::SessionId;

use crate::sessions::random_token;

mod incoming;
mod writer;

pub use incoming::Incoming;
pub use writer::FileWriter;

/// Where and how much to keep.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// The directory; `None` for a fresh temporary one removed at exit.
    pub dir: Option<PathBuf>,
    /// Most bytes kept at once (complete and in-flight files together).
    pub max_bytes: u64,
    /// How long a received file stays fetchable.
    pub expiry: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the gateway's file storage is full ({max} bytes); ask the sender to try later")]
    Full { max: u64 },
    #[error("the file's bytes did not match its announced size or SHA-256")]
    Mismatch,
    #[error("could not store the file: {0}")]
    Io(#[from] io::Error),
}

/// Suffix of the files this module owns in the spool directory (the only ones
/// it ever removes at start).
const SPOOL_SUFFIX: &str = ".spool";
/// Suffix of uploads being received from browsers.
pub const UPLOAD_SUFFIX: &str = ".upload";

/// Cheap to clone.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    expiry: Duration,
    /// std mutex, never held across an `.await`.
    state: Mutex<State>,
    /// Keeps a default temporary directory alive (removed on drop).
    _temp: Option<tempfile::TempDir>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Entry>,
    /// Bytes held by all entries: complete files, and what has arrived of
    /// the others.
    used: u64,
}

struct Entry {
    path: PathBuf,
    /// The sender's file name, shown to users and used in Content-Disposition.
    name: String,
    size: u64,
    /// Bytes of the spool it holds (counted in `used`): its size once
    /// complete, what has arrived so far before.
    held: u64,
    mime: String,
    inline: bool,
    /// The sessions allowed to fetch it.
    grants: Vec<SessionId>,
    created: Instant,
    complete: bool,
}

/// What a download needs.
#[derive(Debug, Clone)]
pub struct Served {
    pub path: PathBuf,
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub inline: bool,
}

/// A stored, complete file.
#[derive(Debug, Clone)]
pub struct Stored {
    pub url: String,
    pub mime: String,
    pub inline: bool,
}

impl Spool {
    pub fn open(config: &SpoolConfig) -> io::Result<Spool> {
        let (dir, temp) = match &config.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                remove_stale(dir)?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("switchboard-spool-")
                    .tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        Ok(Spool {
            inner: Arc::new(Inner {
                dir,
                max_bytes: config.max_bytes,
                expiry: config.expiry,
                state: Mutex::new(State::default()),
                _temp: temp,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        self.state().used
    }

    /// A fresh path for an upload being received from a browser.
    pub fn upload_path(&self) -> PathBuf {
        self.inner
            .dir
            .join(format!("{}{UPLOAD_SUFFIX}", random_token()))
    }

    /// Starts receiving a file of `size` bytes for `grants`. Refused if it
    /// could never fit, or the spool is full now; its space is reserved as
    /// its bytes arrive ([`Spool::reserve`]).
    pub async fn begin(
        &self,
        name: &str,
        size: u64,
        grants: Vec<SessionId>,
    ) -> Result<Incoming, SpoolError> {
        let token = random_token();
        let path = self.inner.dir.join(format!("{token}{SPOOL_SUFFIX}"));
        {
            self.sweep();
            let mut st = self.state();
            if size > self.inner.max_bytes || st.used >= self.inner.max_bytes {
                return Err(SpoolError::Full {
                    max: self.inner.max_bytes,
                });
            }
            st.files.insert(
                token.clone(),
                Entry {
                    path: path.clone(),
                    name: name.to_string(),
                    size,
                    held: 0,
                    mime: String::new(),
                    inline: false,
                    grants,
                    created: Instant::now(),
                    complete: false,
                },
            );
        }
        Incoming::create(self.clone(), token, &path, size).await
    }

    /// Reserves `bytes` more for the entry `token` (its next chunk), or
    /// refuses if that would pass the cap.
    fn reserve(&self, token: &str, bytes: u64) -> Result<(), SpoolError> {
        let mut st = self.state();
        if st.used.saturating_add(bytes) > self.inner.max_bytes {
            return Err(SpoolError::Full {
                max: self.inner.max_bytes,
            });
        }
        // An entry removed meanwhile (everyone it was for left) holds nothing.
        if let Some(entry) = st.files.get_mut(token) {
            entry.held += bytes;
            st.used += bytes;
        }
        Ok(())
    }

    /// The file behind `token`, if `session` may fetch it and it is complete
    /// and not expired.
    pub fn fetch(&self, token: &str, session: SessionId) -> Option<Served> {
        let st = self.state();
        let entry = st.files.get(token)?;
        if !entry.complete
            || !entry.grants.contains(&session)
            || entry.created.elapsed() >= self.inner.expiry
        {
            return None;
        }
        Some(Served {
            path: entry.path.clone(),
            name: entry.name.clone(),
            size: entry.size,
            mime: entry.mime.clone(),
            inline: entry.inline,
        })
    }

    /// Removes expired files. Cheap when nothing expired.
    pub fn sweep(&self) {
        let expiry = self.inner.expiry;
        let mut st = self.state();
        let expired: Vec<String> = st
            .files
            .iter()
            .filter(|(_, e)| e.complete && e.created.elapsed() >= expiry)
            .map(|(t, _)| t.clone())
            .collect();
        for token in expired {
            remove_entry(&mut st, &token);
        }
    }

    /// A session ended: it loses its grants; files nobody may fetch are removed.
    pub fn forget_session(&self, id: SessionId) {
        let mut st = self.state();
        let orphans: Vec<String> = st
            .files
            .iter_mut()
            .filter_map(|(token, e)| {
                e.grants.retain(|g| *g != id);
                (e.complete && e.grants.is_empty()).then(|| token.clone())
            })
            .collect();
        for token in orphans {
            remove_entry(&mut st, &token);
        }
    }
}

fn remove_entry(st: &mut State, token: &str) {
    if let Some(entry) = st.files.remove(token) {
        st.used -= entry.held;
        if let Err(e) = std::fs::remove_file(&entry.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %entry.path.display(), error = %e, "could not remove spool file");
        }
    }
}

/// Removes what an earlier run left in a configured spool directory (only files
/// with this module's suffixes).
fn remove_stale(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(SPOOL_SUFFIX) || name.ends_with(UPLOAD_SUFFIX) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn spool(max: u64, expiry: Duration) -> Spool {
        Spool::open(&SpoolConfig {
            dir: None,
            max_bytes: max,
            expiry,
        })
        .unwrap()
    }

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[tokio::test]
    async fn stores_and_grants() {
        let spool = spool(1000, Duration::from_secs(60));
        let png = b"\x89PNG\r\n\x1a\n0123456789";
        let mut incoming = spool
            .begin("cat.txt", png.len() as u64, vec![1])
            .await
            .unwrap();
        incoming.write(&png[..3]).await.unwrap();
        incoming.write(&png[3..]).await.unwrap();
        let stored = incoming.finish(&sha(png)).await.unwrap();
        // Decided by the bytes, not the name.
        assert!(stored.inline);
        assert_eq!(stored.mime, "image/png");
        let token = stored.url.trim_start_matches("/files/");
        let served = spool.fetch(token, 1).unwrap();
        assert_eq!(std::fs::read(&served.path).unwrap(), png);
        assert!(spool.fetch(token, 2).is_none());
        assert!(spool.fetch("nope", 1).is_none());
    }

    #[tokio::test]
    async fn cap_mismatch_and_partial_files() {
        let spool = spool(10, Duration::from_secs(60));
        assert!(matches!(
            spool.begin("big", 11, vec![1]).await,
            Err(SpoolError::Full { max: 10 })
        ));
        let mut incoming = spool.begin("a.html", 4, vec![1]).await.unwrap();
        assert_eq!(spool.used(), 0, "nothing held before bytes arrive");
        incoming.write(b"<svg").await.unwrap();
        assert_eq!(spool.used(), 4);
        assert!(matches!(
            incoming.finish(&sha(b"nope")).await,
            Err(SpoolError::Mismatch)
        ));
        assert_eq!(spool.used(), 0);
        let incoming = spool.begin("a.html", 4, vec![1]).await.unwrap();
        drop(incoming);
        assert_eq!(spool.used(), 0);
        assert_eq!(std::fs::read_dir(spool.dir()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn space_is_held_as_bytes_arrive_not_as_declared() {
        let spool = spool(10, Duration::from_secs(60));
        // A large file that has sent 1 byte leaves room for others...
        let mut stalled = spool.begin("big", 10, vec![1]).await.unwrap();
        stalled.write(b"x").await.unwrap();
        let mut other = spool.begin("small", 9, vec![2]).await.unwrap();
        other.write(b"123456789").await.unwrap();
        other.finish(&sha(b"123456789")).await.unwrap();
        // ...and the cap still holds: the spool is full now.
        assert!(matches!(
            stalled.write(b"y").await,
            Err(SpoolError::Full { max: 10 })
        ));
        assert!(matches!(
            spool.begin("more", 1, vec![3]).await,
            Err(SpoolError::Full { max: 10 })
        ));
        drop(stalled);
        assert_eq!(spool.used(), 9);
    }

    #[tokio::test]
    async fn a_file_whose_recipients_left_is_not_kept() {
        let spool = spool(100, Duration::from_secs(60));
        let mut incoming = spool.begin("a.bin", 1, vec![1, 2]).await.unwrap();
        spool.forget_session(1);
        spool.forget_session(2);
        incoming.write(b"x").await.unwrap();
        incoming.finish(&sha(b"x")).await.unwrap();
        assert_eq!(spool.used(), 0);
        assert_eq!(std::fs::read_dir(spool.dir()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn expiry_removes_files() {
        let spool = spool(100, Duration::ZERO);
        let mut incoming = spool.begin("a.bin", 1, vec![1]).await.unwrap();
        incoming.write(b"x").await.unwrap();
        let stored = incoming.finish(&sha(b"x")).await.unwrap();
        assert!(
            spool
                .fetch(stored.url.trim_start_matches("/files/"), 1)
                .is_none()
        );
        spool.sweep();
        assert_eq!(spool.used(), 0);
        assert_eq!(std::fs::read_dir(spool.dir()).unwrap().count(), 0);
    }
}
