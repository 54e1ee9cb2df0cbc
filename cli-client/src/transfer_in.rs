//! Receiving a file: bytes go to a partial file in the download directory as
//! they arrive (hashed on the way), and only when the server's `file_end`
//! comes and the size and SHA-256 match is it moved to its final, safe,
//! never-overwriting name. Anything else removes the partial file.

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use protocol::{FileKind, Millis, Seq, Target};
use sha2::{Digest, Sha256};
use tokio::{fs, io::AsyncWriteExt};

use crate::save;

/// Why a received file was not kept.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("cannot write to the download directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("more bytes arrived than announced ({size})")]
    TooLong { size: u64 },
    #[error("{received} bytes arrived, {size} were announced")]
    WrongSize { received: u64, size: u64 },
    #[error("the SHA-256 does not match the announced one")]
    WrongHash,
}

impl ReceiveError {
    pub fn code(&self) -> &'static str {
        match self {
            ReceiveError::Io(_) => "write_failed",
            ReceiveError::TooLong { .. } | ReceiveError::WrongSize { .. } => "size_mismatch",
            ReceiveError::WrongHash => "checksum_mismatch",
        }
    }
}

/// What the `file` event announced.
#[derive(Debug, Clone)]
pub struct Announced {
    pub seq: Seq,
    pub ts: Millis,
    pub from: String,
    pub to: Target,
    pub transfer: u64,
    /// The name as the sender gave it (untrusted).
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub kind: FileKind,
}

/// One file being received.
pub struct Incoming {
    pub announced: Announced,
    /// Where the bytes go until they are verified; hidden and unique.
    part_path: PathBuf,
    file: fs::File,
    hasher: Sha256,
    received: u64,
    bar: ProgressBar,
}

impl Incoming {
    /// Creates the partial file (the download directory on demand).
    pub async fn start(
        dir: &Path,
        announced: Announced,
        bar: ProgressBar,
    ) -> Result<Incoming, ReceiveError> {
        fs::create_dir_all(dir).await?;
        let safe = protocol::safe_file_name(&announced.name);
        let part_path = dir.join(format!(".{safe}.{}.part", announced.transfer));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part_path)
            .await?;
        Ok(Incoming {
            announced,
            part_path,
            file,
            hasher: Sha256::new(),
            received: 0,
            bar,
        })
    }

    /// Appends one chunk.
    pub async fn chunk(&mut self, bytes: &[u8]) -> Result<(), ReceiveError> {
        self.received += bytes.len() as u64;
        if self.received > self.announced.size {
            return Err(ReceiveError::TooLong {
                size: self.announced.size,
            });
        }
        self.hasher.update(bytes);
        self.file.write_all(bytes).await?;
        self.bar.set_position(self.received);
        Ok(())
    }

    /// Verifies and moves the file to its final name, which is returned
    /// (absolute when `dir` is). On error the partial file is removed.
    pub async fn finish(mut self, dir: &Path) -> Result<PathBuf, ReceiveError> {
        let result = self.verify().await;
        if let Err(e) = result {
            self.discard().await;
            return Err(e);
        }
        let safe = protocol::safe_file_name(&self.announced.name);
        let (part, dir) = (self.part_path.clone(), dir.to_path_buf());
        self.bar.finish_and_clear();
        let placed = tokio::task::spawn_blocking(move || save::place(&part, &dir, &safe))
            .await
            .map_err(std::io::Error::other)?;
        match placed {
            Ok(path) => Ok(path),
            Err(e) => {
                let _ = fs::remove_file(&self.part_path).await;
                Err(e.into())
            }
        }
    }

    async fn verify(&mut self) -> Result<(), ReceiveError> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        if self.received != self.announced.size {
            return Err(ReceiveError::WrongSize {
                received: self.received,
                size: self.announced.size,
            });
        }
        let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if !digest.eq_ignore_ascii_case(&self.announced.sha256) {
            return Err(ReceiveError::WrongHash);
        }
        Ok(())
    }

    /// Gives up: removes the partial file so nothing incomplete is left.
    pub async fn discard(self) {
        self.bar.finish_and_clear();
        drop(self.file);
        let _ = fs::remove_file(&self.part_path).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announced(name: &str, data: &[u8], sha: Option<&str>) -> Announced {
        Announced {
            seq: 1,
            ts: 0,
            from: "bob".into(),
            to: Target::Room,
            transfer: 7,
            name: name.into(),
            size: data.len() as u64,
            sha256: sha
                .map(str::to_string)
                .unwrap_or_else(|| hex::encode(Sha256::digest(data))),
            kind: FileKind::File,
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn a_verified_file_gets_its_safe_name() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"hello world";
        let mut inc = Incoming::start(
            dir.path(),
            announced("../../x.txt", data, None),
            ProgressBar::hidden(),
        )
        .await
        .unwrap();
        inc.chunk(&data[..5]).await.unwrap();
        inc.chunk(&data[5..]).await.unwrap();
        let path = inc.finish(dir.path()).await.unwrap();
        assert_eq!(path, dir.path().join("x.txt"));
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(entries(dir.path()), ["x.txt"]);
    }

    #[tokio::test]
    async fn a_corrupt_or_short_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"hello world";
        let inc = Incoming::start(
            dir.path(),
            announced("a", data, Some("00")),
            ProgressBar::hidden(),
        );
        let mut inc = inc.await.unwrap();
        inc.chunk(data).await.unwrap();
        assert!(matches!(
            inc.finish(dir.path()).await,
            Err(ReceiveError::WrongHash)
        ));

        let mut inc = Incoming::start(
            dir.path(),
            announced("b", data, None),
            ProgressBar::hidden(),
        )
        .await
        .unwrap();
        inc.chunk(&data[..3]).await.unwrap();
        assert!(matches!(
            inc.finish(dir.path()).await,
            Err(ReceiveError::WrongSize { .. })
        ));

        let mut inc = Incoming::start(
            dir.path(),
            announced("c", data, None),
            ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert!(matches!(
            inc.chunk(b"hello world, and more").await,
            Err(ReceiveError::TooLong { .. })
        ));
        inc.discard().await;
        assert!(entries(dir.path()).is_empty());
    }
}
