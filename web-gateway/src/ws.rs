//! `GET /ws`: a browser's WebSocket. Authenticated by the session cookie, the
//! Origin checked; the socket is split into a send task (drains this socket's
//! bounded queue, filled by the hub) and a receive task (parses, rate-limits and
//! forwards the browser's messages to the core link); the first to end aborts
//! the other, then the socket is unregistered once.

use std::time::Duration;

use axum::{
    extract::{
        Query, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::HeaderMap,
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use protocol::ClientMsg;
use serde::Deserialize;

use crate::{
    AppState, auth,
    browser::{Control, FromBrowser},
    error::AppError,
    sessions::SessionInfo,
};

/// Read buffer per socket. Browsers send short JSON messages and most sockets
/// are idle, so this stays small (the default reserves 128 KiB per socket);
/// a larger message still arrives, the buffer just grows for it.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes gathered before a write to the socket; flushes happen anyway when
/// the queue runs empty.
const WRITE_BUFFER: usize = 16 * 1024;
/// The most a socket may have buffered for writing before sends fail (several
/// largest messages); the bounded queue in front of it is the real limit.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// How often the gateway pings a browser, so dead sockets are noticed.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Messages written to a socket before a flush.
const WRITE_BATCH: usize = 64;
/// A write that cannot complete for this long means the browser stopped
/// reading (its TCP window is shut): the socket is dropped, so a stuck browser
/// holds neither a task nor its buffers for long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// A browser we have heard nothing from (not even a pong) for this long is
/// gone without closing: the socket is dropped.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(75);

#[derive(Deserialize)]
pub struct WsQuery {
    /// The last timeline seq this browser has shown; it gets what came after.
    #[serde(default)]
    since: u64,
}

/// `GET /ws?since=N`.
pub async fn handler(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    if !auth::origin_allowed(&headers, &state.config.allowed_origins) {
        tracing::info!(origin = ?headers.get("origin"), "WebSocket from a foreign origin refused");
        return Err(AppError::Forbidden(
            "WebSocket from a foreign origin refused",
        ));
    }
    let session = auth::session(&state, &headers).ok_or(AppError::Forbidden("join first"))?;
    let max = state.config.ws_max_message;
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve(socket, state, session, query.since)))
}

async fn serve(socket: WebSocket, state: AppState, session: SessionInfo, since: u64) {
    let limits = (state.max_upload(), state.max_message());
    let Some((socket_id, mut queue)) = state.hub.attach_socket(session.id, since, limits) else {
        return;
    };
    tracing::debug!(user = %session.name, socket = socket_id, "browser socket open");
    let (mut sink, mut stream) = socket.split();

    let mut send_task = tokio::spawn(async move {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                text = queue.recv() => {
                    let Some(text) = text else {
                        // The hub dropped us: too slow, or the session ended.
                        let _ = sink.send(Message::Close(Some(CloseFrame {
                            code: 4000,
                            reason: "closed by the gateway".into(),
                        }))).await;
                        return;
                    };
                    let write = async {
                        sink.feed(Message::Text(text)).await?;
                        let mut n = 1;
                        while n < WRITE_BATCH {
                            let Ok(text) = queue.try_recv() else { break };
                            sink.feed(Message::Text(text)).await?;
                            n += 1;
                        }
                        sink.flush().await
                    };
                    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => {
                            tracing::info!("browser stopped reading: dropping its socket");
                            return;
                        }
                    }
                }
                _ = ping.tick() => {
                    let ping = sink.send(Message::Ping(Default::default()));
                    if !matches!(tokio::time::timeout(WRITE_TIMEOUT, ping).await, Ok(Ok(()))) {
                        return;
                    }
                }
            }
        }
    });

    let recv_state = state.clone();
    let recv_session = session.clone();
    let mut recv_task = tokio::spawn(async move {
        let config = &recv_state.config;
        let bucket = protocol::rate::RateLimit::new(config.ws_rate, config.ws_burst);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(SILENCE_TIMEOUT, stream.next()).await {
            match msg {
                Message::Text(text) => {
                    if !bucket.try_take() {
                        recv_state.hub.send_control(
                            recv_session.id,
                            &Control::Error {
                                code: "rate_limited",
                                message: "slow down: too many messages",
                            },
                        );
                        continue;
                    }
                    handle(&recv_state, &recv_session, &text);
                }
                Message::Close(_) => return,
                _ => {}
            }
        }
    });

    tokio::select! {
        _ = &mut send_task => recv_task.abort(),
        _ = &mut recv_task => send_task.abort(),
    }
    state.hub.detach_socket(session.id, socket_id);
    tracing::debug!(user = %session.name, socket = socket_id, "browser socket closed");
}

/// One message from a browser.
fn handle(state: &AppState, session: &SessionInfo, text: &str) {
    let error = |code: &str, message: &str| {
        state
            .hub
            .send_control(session.id, &Control::Error { code, message });
    };
    let msg = match serde_json::from_str::<FromBrowser>(text) {
        Ok(msg) => msg,
        Err(_) => return error("bad_request", "the gateway did not understand that message"),
    };
    let to_core = match msg {
        FromBrowser::Users => return state.hub.send_users(session.id),
        FromBrowser::Say { text } => ClientMsg::Say { text },
        FromBrowser::Private { to, text } => ClientMsg::Private { to, text },
    };
    if !state.hub.is_attached(session.id) {
        return error(
            "reconnecting",
            "not sent: the gateway is reconnecting to the chat server",
        );
    }
    if let Err(e) = state.link.send(session.id, to_core) {
        error("reconnecting", &format!("not sent: {e}"));
    }
}
