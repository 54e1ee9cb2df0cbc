//! Sending a file: check it locally, hash it by streaming, then stream it to
//! the server in `CHUNK_SIZE` chunks. The file is never held whole in memory:
//! at most one chunk here plus the bounded file queue of the writer.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use indicatif::ProgressBar;
use protocol::{
    CHUNK_SIZE, ClientMsg, FileKind, SNIFF_LEN, Target, client::SendCredit, codec::Frame,
    sniff_image,
};
use sha2::{Digest, Sha256};
use tokio::{
    fs::File,
    io::{AsyncRead, AsyncReadExt},
    sync::mpsc,
};

/// Why a file cannot be sent. Shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a regular file")]
    NotAFile(PathBuf),
    #[error("{path} is {size} bytes; the server accepts at most {max}")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error(
        "{0} is not an image (png, jpeg, gif or webp, judged by its bytes); use /sendfile to send it as a file"
    )]
    NotAnImage(PathBuf),
    #[error("{path} changed while it was being sent")]
    Changed { path: PathBuf },
    #[error("the connection closed")]
    Disconnected,
}

impl SendError {
    /// The code shown in `--json` lines.
    pub fn code(&self) -> &'static str {
        match self {
            SendError::Io { .. } | SendError::NotAFile(_) => "unreadable",
            SendError::TooLarge { .. } => "file_too_large",
            SendError::NotAnImage(_) => "not_an_image",
            SendError::Changed { .. } => "file_changed",
            SendError::Disconnected => "disconnected",
        }
    }
}

/// A file that passed the local checks and may be offered.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Absolute path, so reports name the file unambiguously.
    pub path: PathBuf,
    /// The base name recipients see (they sanitise it again).
    pub name: String,
    pub size: u64,
    pub kind: FileKind,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SendError + '_ {
    move |source| SendError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a file before anything is sent: it exists, is a regular file, fits
/// the server's limit, and, for an image, really starts like one.
pub async fn prepare(path: &Path, kind: FileKind, max_file: u64) -> Result<Prepared, SendError> {
    let path = std::path::absolute(path).map_err(io_err(path))?;
    let meta = tokio::fs::metadata(&path).await.map_err(io_err(&path))?;
    if !meta.is_file() {
        return Err(SendError::NotAFile(path));
    }
    if meta.len() > max_file {
        return Err(SendError::TooLarge {
            path,
            size: meta.len(),
            max: max_file,
        });
    }
    if kind == FileKind::Image {
        let mut file = File::open(&path).await.map_err(io_err(&path))?;
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut file)
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .await
            .map_err(io_err(&path))?;
        if sniff_image(&head).is_none() {
            return Err(SendError::NotAnImage(path));
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    Ok(Prepared {
        path,
        name,
        size: meta.len(),
        kind,
    })
}

/// Reads up to one chunk; an empty result means end of file.
async fn read_chunk(reader: &mut (impl AsyncRead + Unpin)) -> std::io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(CHUNK_SIZE);
    while buf.len() < CHUNK_SIZE {
        if reader.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf)
}

/// The SHA-256 (lower-case hex) and length of a file, read by streaming.
pub async fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    loop {
        let chunk = read_chunk(&mut file).await?;
        if chunk.is_empty() {
            break;
        }
        len += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((hex::encode(hasher.finalize()), len))
}

/// What a running send reports back to the session.
#[derive(Debug)]
pub enum Progress {
    /// The offer is queued; recipients will see this SHA-256.
    Offered { id: u32, sha256: String },
    /// Every byte and the end frame are queued for the server.
    AllSent { id: u32 },
    /// It stopped here (the session cancels the offer if one was made).
    Failed { id: u32, error: SendError },
}

/// Hashes, offers and streams one file. Frames go to `files`, the writer's
/// file queue (bounded: this task waits when the connection is busy, which is
/// what keeps memory flat); each chunk waits for `credit` first (the server's
/// flow control). Reports to `report`.
pub async fn send(
    id: u32,
    file: Prepared,
    to: Target,
    files: mpsc::Sender<Frame<ClientMsg>>,
    credit: SendCredit,
    bar: ProgressBar,
    report: mpsc::Sender<Progress>,
) {
    let result = stream(id, &file, to, &files, &credit, &bar, &report).await;
    let message = match result {
        Ok(()) => Progress::AllSent { id },
        Err(error) => Progress::Failed { id, error },
    };
    let _ = report.send(message).await;
}

async fn stream(
    id: u32,
    file: &Prepared,
    to: Target,
    files: &mpsc::Sender<Frame<ClientMsg>>,
    credit: &SendCredit,
    bar: &ProgressBar,
    report: &mpsc::Sender<Progress>,
) -> Result<(), SendError> {
    let path = &file.path;
    let (sha256, len) = hash_file(path).await.map_err(io_err(path))?;
    if len != file.size {
        return Err(SendError::Changed { path: path.clone() });
    }
    let offer = ClientMsg::FileOffer {
        id,
        to,
        name: file.name.clone(),
        size: file.size,
        sha256: sha256.clone(),
        kind: file.kind,
    };
    let _ = report.send(Progress::Offered { id, sha256 }).await;
    let send = |msg: ClientMsg| files.send(Frame::new(msg));
    send(offer).await.map_err(|_| SendError::Disconnected)?;

    let mut reader = File::open(path).await.map_err(io_err(path))?;
    let mut sent = 0u64;
    loop {
        let chunk = read_chunk(&mut reader).await.map_err(io_err(path))?;
        if chunk.is_empty() {
            break;
        }
        sent += chunk.len() as u64;
        if sent > file.size {
            return Err(SendError::Changed { path: path.clone() });
        }
        // Closed only when the transfer is over: nobody is left to send to.
        credit
            .take(chunk.len())
            .await
            .ok_or(SendError::Disconnected)?;
        files
            .send(Frame::new(ClientMsg::FileChunk { id }).with_payload(chunk.freeze()))
            .await
            .map_err(|_| SendError::Disconnected)?;
        bar.set_position(sent);
    }
    if sent != file.size {
        return Err(SendError::Changed { path: path.clone() });
    }
    send(ClientMsg::FileEnd { id })
        .await
        .map_err(|_| SendError::Disconnected)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prepare_refuses_what_cannot_be_sent() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.png");
        std::fs::write(&text, b"just text, named like a png").unwrap();
        let png = dir.path().join("real");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n....").unwrap();

        assert!(matches!(
            prepare(&text, FileKind::Image, 1 << 20).await,
            Err(SendError::NotAnImage(_))
        ));
        let ok = prepare(&png, FileKind::Image, 1 << 20).await.unwrap();
        assert_eq!((ok.name.as_str(), ok.size), ("real", 12));
        assert!(prepare(&text, FileKind::File, 1 << 20).await.is_ok());
        assert!(matches!(
            prepare(&text, FileKind::File, 3).await,
            Err(SendError::TooLarge { .. })
        ));
        assert!(matches!(
            prepare(dir.path(), FileKind::File, 1 << 20).await,
            Err(SendError::NotAFile(_))
        ));
        assert!(matches!(
            prepare(&dir.path().join("missing"), FileKind::File, 1 << 20).await,
            Err(SendError::Io { .. })
        ));
    }

    #[tokio::test]
    async fn hashing_streams_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let data: Vec<u8> = (0..(3 * CHUNK_SIZE + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let (sha, len) = hash_file(&path).await.unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(&data)));
    }
}
