//! Many users at once: connect them with bounded concurrency, put a barrier
//! between setup and measurement, and take them all down again.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::{sync::Semaphore, task::JoinSet};

use crate::{
    Error,
    client::{self, Client, Command, End, Target},
    metrics::{Kind, Recorder},
};

/// Connections being set up at the same time (the server's accept backlog
/// and our CPU, not the number of users, bound this).
const CONNECT_CONCURRENCY: usize = 8;

/// How long a barrier may take: with thousands of users, the join storm
/// (every join announced to every member) must drain first.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// A group of connected users sharing one recorder.
pub struct Swarm {
    pub clients: Vec<Client>,
    pub rec: Arc<Recorder>,
}

/// A prefix that keeps names unique across runs against the same server
/// (a previous run's users may still be leaving), short enough for IRC.
fn name_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let a = letters[(nanos % 26) as usize] as char;
    let b = letters[((nanos / 26) % 26) as usize] as char;
    format!("{a}{b}")
}

impl Swarm {
    /// Connects `n` users (names `<prefix><idx>`) and waits until every one
    /// of them is in the room and has seen all the others arrive.
    pub async fn connect(target: &Target, n: usize) -> Result<Swarm, Error> {
        Self::connect_with(target, n, Arc::new(Recorder::new(n))).await
    }

    /// Like [`Swarm::connect`], with a recorder sized by the caller.
    pub async fn connect_with(
        target: &Target,
        n: usize,
        rec: Arc<Recorder>,
    ) -> Result<Swarm, Error> {
        let prefix = name_prefix();
        let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for idx in 0..n as u32 {
            let permit = permits.clone().acquire_owned().await.expect("never closed");
            let target = target.clone();
            let rec = rec.clone();
            let name = format!("{prefix}{idx}");
            tasks.spawn(async move {
                let result = client::connect(&target, idx, name, rec).await;
                drop(permit);
                result
            });
        }
        let mut clients = Vec::with_capacity(n);
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("connect task does not panic") {
                Ok(client) => clients.push(client),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        clients.sort_by_key(|c| c.idx);
        let swarm = Swarm { clients, rec };
        if let Some(e) = first_error {
            swarm.close().await;
            return Err(e);
        }
        if n > 1 {
            swarm.sync().await?;
        }
        Ok(swarm)
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A barrier: client 0 sends a room message and we wait until all others
    /// have it. Each connection is in order, so everything sent to anyone
    /// before it (joins, earlier messages) has been read by then.
    pub async fn sync(&self) -> Result<(), Error> {
        self.sync_among(self.len() as u64 - 1).await
    }

    /// A barrier expecting `recipients` to see it (fewer than all when one
    /// client deliberately stopped reading).
    pub async fn sync_among(&self, recipients: u64) -> Result<(), Error> {
        let id = self.rec.start_sync();
        let text = self.rec.stamp(0, id, Kind::Sync, 64);
        if !self.clients[0].send(Command::Room(text)).await {
            return Err(Error::Closed("sync"));
        }
        if self.rec.wait_sync(recipients, SYNC_TIMEOUT).await {
            Ok(())
        } else {
            Err(Error::Timeout(format!(
                "barrier: not all of {recipients} clients got the sync message"
            )))
        }
    }

    /// Everyone leaves; returns how each connection ended.
    pub async fn close(self) -> Vec<End> {
        let mut tasks = JoinSet::new();
        for client in self.clients {
            tasks.spawn(client.quit(Duration::from_secs(10)));
        }
        let mut ends = Vec::new();
        while let Some(end) = tasks.join_next().await {
            ends.push(end.unwrap_or_default());
        }
        ends
    }
}
