//! Files arriving for us: each announced file streamed to disk as its chunks
//! come, checked at its end, removed if it fails.

use protocol::ClientMsg;

use super::Room;
use crate::{
    render::Output,
    transfer_in::{Announced, Incoming},
};

impl Room {
    /// A `file` event: starts receiving it (unless it is our own offer).
    pub(super) async fn file_announced(&mut self, announced: Announced) {
        if announced.from.eq_ignore_ascii_case(&self.me) {
            return;
        }
        self.ui.emit(Output::FileIncoming {
            seq: announced.seq,
            ts: announced.ts,
            from: announced.from.clone(),
            to: announced.to.clone(),
            name: announced.name.clone(),
            size: announced.size,
            sha256: announced.sha256.clone(),
            kind: announced.kind,
        });
        let label = format!("{} <- {}", announced.name, announced.from);
        let bar = self.ui.bar(announced.size, &label);
        let transfer = announced.transfer;
        match Incoming::start(&self.download_dir, announced.clone(), bar).await {
            Ok(incoming) => {
                self.incoming.insert(transfer, incoming);
            }
            Err(e) => {
                self.ignored.insert(transfer);
                self.receive_failed(&announced, e.code(), e.to_string());
            }
        }
    }

    /// A `file_chunk`: written out, or the transfer given up on a failure
    /// (its later chunks are then dropped).
    pub(super) async fn file_chunk(&mut self, transfer: u64, payload: &[u8]) {
        let Some(incoming) = self.incoming.get_mut(&transfer) else {
            return;
        };
        let written = incoming.chunk(payload).await;
        if written.is_ok() {
            // Written out: the server may send as much again (flow control).
            let bytes = payload.len() as u64;
            self.send(ClientMsg::FileCredit { transfer, bytes }).await;
        } else if let Err(e) = written {
            let incoming = self.incoming.remove(&transfer).expect("present");
            let announced = incoming.announced.clone();
            incoming.discard().await;
            self.ignored.insert(transfer);
            self.receive_failed(&announced, e.code(), e.to_string());
        }
    }

    /// A `file_end`: checked and saved under its safe name, or removed.
    pub(super) async fn file_end(&mut self, transfer: u64) {
        if let Some(incoming) = self.incoming.remove(&transfer) {
            let announced = incoming.announced.clone();
            match incoming.finish(&self.download_dir).await {
                Ok(path) => self.ui.emit(Output::FileReceived {
                    seq: announced.seq,
                    ts: announced.ts,
                    from: announced.from,
                    to: announced.to,
                    name: announced.name,
                    path,
                    size: announced.size,
                    sha256: announced.sha256,
                    kind: announced.kind,
                }),
                Err(e) => self.receive_failed(&announced, e.code(), e.to_string()),
            }
        }
        self.ignored.remove(&transfer);
    }

    /// A `file_abort` (the sender cancelled or left): nothing is kept.
    pub(super) async fn file_abort(&mut self, transfer: u64, code: &str, message: String) {
        if let Some(incoming) = self.incoming.remove(&transfer) {
            let announced = incoming.announced.clone();
            incoming.discard().await;
            self.receive_failed(&announced, code, message);
        }
        self.ignored.remove(&transfer);
    }

    fn receive_failed(&self, announced: &Announced, code: &str, text: String) {
        self.ui.emit(Output::FileFailed {
            from: Some(announced.from.clone()),
            to: None,
            name: announced.name.clone(),
            path: None,
            code: code.into(),
            text: format!("not saved: {text}"),
        });
    }

    /// The connection ended: partial files are removed.
    pub(super) async fn close_incoming(&mut self) {
        for (_, incoming) in self.incoming.drain() {
            let announced = incoming.announced.clone();
            incoming.discard().await;
            self.ui.emit(Output::FileFailed {
                from: Some(announced.from),
                to: None,
                name: announced.name,
                path: None,
                code: "disconnected".into(),
                text: "the connection ended before the file arrived; nothing saved".into(),
            });
        }
    }
}
