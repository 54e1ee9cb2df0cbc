//! Command-line options (every one also documented in `--help` and README.md).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;

/// Switchboard web gateway: lets browsers join the chat room.
///
/// Without --core it starts an embedded core server in the same process (TCP for
/// terminal users on --core-listen, with a random link token) and connects to it
/// over TCP exactly like to a remote one.
#[derive(Parser, Debug, Clone)]
#[command(name = "web-gateway", version)]
pub struct Args {
    /// Address the HTTP server (pages, WebSocket, uploads) listens on.
    #[arg(long, env = "SWITCHBOARD_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,

    /// An existing core server to connect to (HOST:PORT). Without it, an
    /// embedded core is started.
    #[arg(long, env = "SWITCHBOARD_CORE", requires = "gateway_token")]
    pub core: Option<String>,

    /// The core's gateway token (required with --core; the embedded core gets a
    /// random one).
    #[arg(long, env = "SWITCHBOARD_GATEWAY_TOKEN", hide_env_values = true)]
    pub gateway_token: Option<String>,

    /// Where the embedded core listens for terminal users (ignored with --core).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub core_listen: SocketAddr,

    /// Another origin allowed to open the WebSocket and post forms, exactly as
    /// the browser sends it (e.g. https://chat.example.org). Repeatable. The
    /// gateway's own origin is always allowed.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// Largest file a browser may upload, in bytes (the core's own file limit
    /// applies too, whichever is smaller).
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    pub max_upload: u64,

    /// Uploads processed at once; more are refused with 503.
    #[arg(long, default_value_t = 8)]
    pub max_uploads: usize,

    /// Directory for files received by browser users (default: a fresh
    /// temporary directory, removed at exit).
    #[arg(long, env = "SWITCHBOARD_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,

    /// Most bytes kept in the spool at once; files beyond are refused.
    #[arg(long, default_value_t = 1024 * 1024 * 1024)]
    pub spool_max_bytes: u64,

    /// How long a received file can be downloaded, in seconds.
    #[arg(long, default_value_t = 24 * 60 * 60)]
    pub spool_expiry_secs: u64,

    /// How long a session survives without any open page (reloads and short
    /// network drops keep the session), in seconds.
    #[arg(long, default_value_t = 60)]
    pub session_grace_secs: u64,

    /// Most web users at once.
    #[arg(long, default_value_t = 1000)]
    pub max_sessions: usize,

    /// Outbound queue per browser socket, in messages; a browser that falls
    /// this far behind is disconnected (it reconnects and catches up).
    #[arg(long, default_value_t = 256)]
    pub browser_queue: usize,

    /// Recent events kept per session to replay to a reconnecting page.
    #[arg(long, default_value_t = 200)]
    pub replay: usize,

    /// Largest WebSocket message a browser may send, in bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    pub ws_max_message: usize,

    /// Messages per second a browser socket may send (sustained).
    #[arg(long, default_value_t = 5)]
    pub ws_rate: u32,

    /// Messages a browser socket may send in a burst.
    #[arg(long, default_value_t = 20)]
    pub ws_burst: u32,

    /// First delay before reconnecting to the core, in milliseconds; doubles
    /// on each failure up to --reconnect-max-ms.
    #[arg(long, default_value_t = 100)]
    pub reconnect_min_ms: u64,

    /// Longest delay between reconnect attempts, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub reconnect_max_ms: u64,

    /// Seconds of silence from the core before the gateway pings it; twice
    /// that and the link is dropped and re-established.
    #[arg(long, default_value_t = 15)]
    pub core_ping_secs: u64,

    /// Mark the session cookie `Secure` (set this when serving over HTTPS).
    #[arg(long)]
    pub secure_cookie: bool,

    /// Directory of the static assets (app.js, style.css).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../static"))]
    pub static_dir: PathBuf,
}

impl Default for Args {
    fn default() -> Self {
        Args::parse_from(["web-gateway"])
    }
}

impl Args {
    pub fn session_grace(&self) -> Duration {
        Duration::from_secs(self.session_grace_secs)
    }
}
