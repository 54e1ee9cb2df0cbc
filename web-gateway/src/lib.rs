//! Switchboard's web gateway: an axum service that lets browsers join the room,
//! as ONE multiplexed client of the core server (a gateway link).
//!
//! # Layout
//! - [`config`]: command-line options.
//! - [`link`]: the task that owns the single TCP connection to the core
//!   (`link/mod.rs` the handle and [`link::LinkSession`], `connection.rs`
//!   connect, serve, reconnect with backoff, re-attach with `since`;
//!   `routing.rs` each core frame to the hub, the spool or an upload).
//! - [`sessions`]: cookie -> session; the hub that fans events out to browser
//!   sockets (serialised once, bounded queue per socket, slow ones dropped).
//! - [`browser`]: the WebSocket JSON protocol (`WEBSOCKET.md`).
//! - [`ws`]: the WebSocket handler. [`upload`]: multipart uploads streamed to
//!   the core. [`spool`]: received files on disk (`incoming.rs` one file being
//!   written, `writer.rs` the task fed by the link). [`files`]: downloads.
//! - [`pages`]: the askama pages (top-level `templates/`). [`auth`]: cookie,
//!   Origin and CSRF checks. [`host`]: the Host check (DNS rebinding).
//!   [`join_rate`]: joins per minute per address. [`user_uploads`]: uploads
//!   per session. [`visible`]: invisible characters shown as `<U+202E>`.
//!   [`error`]: the handlers' error type.
//!
//! [`app`] builds the router from an [`AppState`] (tests drive it directly);
//! [`serve`] runs it on a listener ([`listener`]: the accept loop with the
//! header and body timeouts and the connection caps); [`run`] is the binary's whole life,
//! including the embedded core.

pub mod auth;
pub mod browser;
pub mod config;
pub mod error;
pub mod files;
pub mod host;
pub mod join_rate;
pub mod link;
pub mod listener;
pub mod pages;
pub mod sessions;
pub mod spool;
pub mod upload;
pub mod user_uploads;
pub mod visible;
pub mod ws;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, header},
    routing::{get, post},
};
use protocol::{ClientMsg, SessionId};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tower_http::{
    compression::CompressionLayer, limit::RequestBodyLimitLayer, services::ServeDir,
    set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use crate::{
    config::Args,
    link::{Link, LinkConfig},
    sessions::{Hub, HubConfig},
    spool::{Spool, SpoolConfig},
};

/// CSP for pages: scripts and styles only from our own files (no inline
/// script or style), WebSocket and fetch only to ourselves.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// How long the binary waits for the core link before announcing itself.
const STARTUP_WAIT: Duration = Duration::from_secs(5);
/// Largest body of the small forms (join, leave).
const FORM_LIMIT: usize = 16 * 1024;

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Sessions and the fan-out to browser sockets.
    pub hub: Hub,
    /// The one connection to the core.
    pub link: Link,
    /// Files received by browser users.
    pub spool: Spool,
    /// The command line, for the limits handlers check.
    pub config: Arc<Args>,
    /// Uploads being processed at once (each holds a temporary file).
    pub upload_slots: Arc<Semaphore>,
    /// Uploads per session at once.
    pub user_uploads: user_uploads::UserUploads,
    /// Joins per minute per client address.
    pub join_rate: join_rate::JoinRate,
}

impl AppState {
    /// The upload limit: ours, or the core's if smaller.
    pub fn max_upload(&self) -> u64 {
        match self.link.limits() {
            Some(limits) => self.config.max_upload.min(limits.max_file),
            None => self.config.max_upload,
        }
    }

    /// The core's credit window for files (flow control).
    pub fn file_window(&self) -> u64 {
        self.link
            .limits()
            .map_or(protocol::DEFAULT_FILE_WINDOW, |limits| limits.file_window)
    }

    /// The core's message limit (bytes of UTF-8).
    pub fn max_message(&self) -> u32 {
        self.link.limits().map_or(4096, |limits| limits.max_message)
    }

    /// Ends a session everywhere: browsers, the core, the spool.
    pub fn end_session(&self, id: SessionId, reason: &str) {
        if self.hub.end_session(id, reason) == Some(true) {
            let _ = self.link.send(id, ClientMsg::Quit);
        }
        self.spool.forget_session(id);
    }
}

/// The router: pages, static files, WebSocket, uploads, downloads.
pub fn app(state: AppState) -> Router {
    let upload_limit =
        usize::try_from(state.config.max_upload + upload::MULTIPART_SLACK).unwrap_or(usize::MAX);
    let pages = Router::new()
        .route("/", get(pages::join_page))
        .route("/join", post(pages::join))
        .route("/chat", get(pages::chat_page))
        .route("/leave", post(pages::leave))
        .route("/api/session", get(pages::session_status))
        .nest_service("/static", ServeDir::new(&state.config.static_dir))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(FORM_LIMIT));
    let api = Router::new()
        .route("/ws", get(ws::handler))
        .route(
            "/upload",
            post(upload::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/files/{token}", get(files::download));
    let hosts = host::AllowedHosts::new(
        state.config.http.ip(),
        state
            .config
            .public_url
            .iter()
            .chain(&state.config.allowed_origins)
            .map(String::as_str),
    );
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    pages
        .merge(api)
        .layer(header(header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Not `no-referrer`: with it browsers send `Origin: null` on form
        // posts, and the Origin check would refuse our own forms.
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(axum::middleware::from_fn_with_state(hosts, host::check))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Starts the link task and the housekeeping; returns the state for [`app`].
pub fn start(
    args: Args,
    link: LinkConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<AppState> {
    let hub = Hub::new(HubConfig {
        browser_queue: args.browser_queue,
        replay: args.replay,
        max_sessions: args.max_sessions,
    });
    let spool = Spool::open(&SpoolConfig {
        dir: args.spool_dir.clone(),
        max_bytes: args.spool_max_bytes,
        expiry: args.spool_expiry,
    })
    .context("cannot open the spool directory")?;
    let (link, _task) = Link::spawn(link, hub.clone(), spool.clone(), shutdown.clone());
    let state = AppState {
        hub,
        link,
        spool,
        upload_slots: Arc::new(Semaphore::new(args.max_uploads.max(1))),
        user_uploads: user_uploads::UserUploads::new(args.max_uploads_per_user),
        join_rate: join_rate::JoinRate::new(args.joins_per_minute, args.limit_loopback),
        config: Arc::new(args),
    };
    tokio::spawn(housekeeping(state.clone(), shutdown.clone()));
    Ok(state)
}

/// Ends idle sessions and removes expired files.
async fn housekeeping(state: AppState, shutdown: CancellationToken) {
    let grace = state.config.session_grace;
    let every = (grace / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        for id in state.hub.expire_idle(grace) {
            let _ = state.link.send(id, ClientMsg::Quit);
            state.spool.forget_session(id);
        }
        state.spool.sweep();
        state.join_rate.forget_idle();
    }
}

/// Serves HTTP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    args: Args,
    link: LinkConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = start(args, link, &shutdown)?;
    serve_state(listener, state, shutdown).await
}

/// Serves an already started [`AppState`] until `shutdown`; callers that
/// must know when the link is up (tests, benchmarks) start it themselves and
/// wait on `state.link.wait_up`.
pub async fn serve_state(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = state.config.listen_config();
    listener::serve(listener, app(state), config, shutdown).await;
    Ok(())
}

/// Raises the soft open-file limit to the hard one: every connection is a
/// descriptor, and the common default of 1024 is far below
/// `--max-connections`.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

/// The binary: embedded core unless `--core`, then the gateway.
pub async fn run(args: Args, shutdown: CancellationToken) -> anyhow::Result<()> {
    args.validate().map_err(anyhow::Error::msg)?;
    raise_open_file_limit();
    let (core_addr, token, core_task) = match &args.core {
        Some(addr) => {
            let token = args
                .gateway_token
                .clone()
                .context("--core needs --gateway-token (or SWITCHBOARD_GATEWAY_TOKEN)")?;
            (addr.clone(), token, None)
        }
        None => {
            let token = sessions::random_token();
            let listener = TcpListener::bind(args.core_listen).await.with_context(|| {
                format!("cannot listen for terminal users on {}", args.core_listen)
            })?;
            let addr = listener.local_addr()?;
            let config = core_server::Config {
                listen: addr,
                gateway_token: Some(token.clone()),
                ..Default::default()
            };
            let core_shutdown = shutdown.clone();
            let task = tokio::spawn(async move {
                if let Err(e) = core_server::serve(listener, config, core_shutdown).await {
                    tracing::error!(error = %e, "embedded core server failed");
                }
            });
            (addr.to_string(), token, Some(task))
        }
    };
    let listener = TcpListener::bind(args.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", args.http))?;
    let http = listener.local_addr()?;
    let link = LinkConfig {
        addr: core_addr.clone(),
        token,
        backoff_min: args.reconnect_min,
        backoff_max: args.reconnect_max.max(args.reconnect_min),
        // At least a second: a zero would ping the core without pause.
        ping_every: args.core_ping.max(Duration::from_secs(1)),
    };
    let state = start(args, link, &shutdown)?;
    // Say "running" once browsers can join (an unreachable remote core is
    // reported, and retried in the background).
    if !state.link.wait_up(STARTUP_WAIT).await {
        tracing::warn!(core = %core_addr, "the core is not reachable yet; retrying in the background");
    }
    println!("Switchboard is running.");
    println!("  Browsers:        open http://{http}/");
    println!("  Terminal users:  cargo run -p cli-client -- --server {core_addr} --name YOUR_NAME");
    let result = serve_state(listener, state, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(task) = core_task {
        let _ = task.await;
    }
    result
}
