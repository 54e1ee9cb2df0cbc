//! The accept loop: connection limit, one task per connection, graceful
//! shutdown. [`serve`] is the entry point for the binary and for embedders.

use std::{sync::Arc, time::Duration};

use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, error, info, warn};

use protocol::ErrorCode;

use crate::{
    admission::Admission, config::Config, connection, error::ServerError, notice::Bye, room::Room,
};

/// Most connections refused with `server_full` that may be lingering at once
/// (each waits a moment so the refusal is read); beyond that they are dropped.
const MAX_REFUSING: usize = 64;

/// Runs the chat server on `listener` until `shutdown` is cancelled, then tells
/// every client `bye shutting_down`, lets their queues drain (bounded by
/// `config.drain_timeout`) and returns.
///
/// This is the embedding API: the web gateway runs a core in its own process
/// with it.
///
/// ```no_run
/// # async fn f() -> Result<(), core_server::ServerError> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7878").await?;
/// let config = core_server::Config {
///     gateway_token: Some("a-long-random-secret".into()),
///     ..Default::default()
/// };
/// let shutdown = tokio_util::sync::CancellationToken::new();
/// core_server::serve(listener, config, shutdown).await
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    config.validate()?;
    let config = Arc::new(config);
    let room = Room::new(config.history, config.history_bytes, config.room_buffer);
    let admission = Admission::new(&config);
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let tracker = TaskTracker::new();
    info!(addr = %listener.local_addr()?, "core server listening");
    let mut backoff = Duration::from_millis(10);
    loop {
        // The permit is taken before accepting: at the limit, a newcomer is
        // accepted only to be told `server_full`.
        let permit = limit.clone().try_acquire_owned().ok();
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::from_millis(10);
                accepted
            }
            Err(e) => {
                // Usually out of file descriptors: wait, do not spin or die.
                error!(error = %e, "accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        // A slot may have been freed while we waited in accept.
        let permit = permit.or_else(|| limit.clone().try_acquire_owned().ok());
        let admitted = match permit {
            None => {
                warn!("connection limit reached; refusing a connection");
                Err(ErrorCode::ServerFull.into())
            }
            Some(permit) => admission.connect(peer.ip()).map(|slot| (permit, slot)),
        };
        let (permit, slot) = match admitted {
            Ok(admitted) => admitted,
            Err(bye) => {
                if bye.code != ErrorCode::ServerFull {
                    debug!(%peer, code = ?bye.code, "refusing a connection");
                }
                if let Ok(lingering) = refusing.clone().try_acquire_owned() {
                    tracker.spawn(async move {
                        refuse(socket, bye).await;
                        drop(lingering);
                    });
                }
                continue;
            }
        };
        let (room, config, shutdown) = (room.clone(), config.clone(), shutdown.clone());
        let admission = admission.clone();
        tracker.spawn(async move {
            connection::run(socket, room, config, admission, shutdown).await;
            drop((permit, slot));
        });
    }
    drop(listener);
    info!(
        connections = tracker.len(),
        "shutting down: telling clients, draining"
    );
    tracker.close();
    tracker.wait().await;
    info!("core server stopped");
    Ok(())
}

/// Tells a connection over a limit why, then closes it.
async fn refuse(mut socket: TcpStream, bye: Bye) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let bye = protocol::codec::encode(protocol::LINK_SESSION, &bye.msg(), &[]);
        socket.write_all(&bye.0).await?;
        socket.shutdown().await?;
        // Read what the client sent (its hello) so closing does not reset.
        let mut scratch = [0u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut socket, &mut scratch).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
