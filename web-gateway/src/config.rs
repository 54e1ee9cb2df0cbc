//! Command-line options (every one also documented in `--help` and README.md).
//!
//! Durations are written like on every other binary (`10s`, `500ms`, `2m`;
//! [`protocol::parse_duration`]). The old `--*-secs` / `--*-ms` spellings are
//! still accepted, hidden, for one release, each with its old unit: a bare
//! number is seconds for a `-secs` flag (the same as the new parser, so those
//! are plain aliases) and milliseconds for a `-ms` flag (so those are separate
//! hidden flags, folded into the new fields by [`Args::fold_old_spellings`]).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;
use protocol::{parse_duration, parse_millis};

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
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = parse_url)]
    pub allowed_origins: Vec<String>,

    /// The URL browsers use to reach the gateway when it is not the --http
    /// address (behind a reverse proxy, or a DNS name), e.g.
    /// https://chat.example.org. Requests naming any other host are refused
    /// with 421 (DNS rebinding); its host joins the bind address, the
    /// --allowed-origin hosts and, on loopback, `localhost`.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub public_url: Option<String>,

    /// Largest file a browser may upload, in bytes (the core's own file limit
    /// applies too, whichever is smaller).
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    pub max_upload: u64,

    /// Uploads processed at once; more are refused with 503.
    #[arg(long, default_value_t = 8)]
    pub max_uploads: usize,

    /// Uploads one web user may run at once; more are refused with 429.
    #[arg(long, default_value_t = 2)]
    pub max_uploads_per_user: usize,

    /// Joins per minute from one address (all may come at once); more are
    /// refused with 429. Loopback is exempt unless --limit-loopback.
    #[arg(long, default_value_t = 10)]
    pub joins_per_minute: u32,

    /// Directory for files received by browser users (default: a fresh
    /// temporary directory, removed at exit).
    #[arg(long, env = "SWITCHBOARD_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,

    /// Most bytes kept in the spool at once; files beyond are refused.
    #[arg(long, default_value_t = 1024 * 1024 * 1024)]
    pub spool_max_bytes: u64,

    /// How long a received file can be downloaded (e.g. `1440m`, `10s`).
    #[arg(long, alias = "spool-expiry-secs", default_value = "1440m", value_name = "DURATION", value_parser = parse_duration)]
    pub spool_expiry: Duration,

    /// How long a session survives without any open page (reloads and short
    /// network drops keep the session), e.g. `60s`.
    #[arg(long, alias = "session-grace-secs", default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub session_grace: Duration,

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

    /// First delay before reconnecting to the core (e.g. `100ms`); doubles on
    /// each failure up to --reconnect-max.
    #[arg(long, default_value = "100ms", value_name = "DURATION", value_parser = parse_duration)]
    pub reconnect_min: Duration,

    /// Longest delay between reconnect attempts (e.g. `5s`).
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub reconnect_max: Duration,

    /// Silence from the core before the gateway pings it (e.g. `15s`); twice
    /// that and the link is dropped and re-established.
    #[arg(long, alias = "core-ping-secs", default_value = "15s", value_name = "DURATION", value_parser = parse_duration)]
    pub core_ping: Duration,

    /// Time a client has to send a request's headers (e.g. `10s`); an
    /// unfinished request, or a kept-alive connection that starts no new one,
    /// is closed after it.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// A request body (an upload) that sends nothing for this long is cut
    /// (an upload then fails with 400 and its partial file is deleted).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub body_idle_timeout: Duration,

    /// HTTP connections open at once (WebSockets included); more are answered
    /// 503 and closed.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,

    /// HTTP connections open at once from one address; more are answered 503
    /// and closed. Loopback is exempt unless --limit-loopback.
    #[arg(long, default_value_t = 64)]
    pub max_connections_per_addr: usize,

    /// Apply the per-address limits to loopback addresses too (by default
    /// they are exempt, so local use and benchmarks are not limited).
    #[arg(long)]
    pub limit_loopback: bool,

    /// A reverse proxy whose `X-Forwarded-For` names the client (its last
    /// entry); only this proxy's connections are exempt from the
    /// per-address connection cap.
    #[arg(long, value_name = "ADDR")]
    pub trusted_proxy: Option<std::net::IpAddr>,

    /// Mark the session cookie `Secure` (set this when serving over HTTPS).
    #[arg(long)]
    pub secure_cookie: bool,

    /// Directory of the static assets (app.js, style.css).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../static"))]
    pub static_dir: PathBuf,

    /// The old `--*-ms` spellings; empty once [`Args::fold_old_spellings`] ran.
    #[command(flatten)]
    #[doc(hidden)]
    pub old: OldSpellings,
}

/// The flags renamed when durations got units, whose bare numbers meant
/// milliseconds (a plain alias would make them seconds). Hidden; remove after
/// one release.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OldSpellings {
    /// Old spelling of --reconnect-min.
    #[arg(long = "reconnect-min-ms", hide = true, value_name = "MS", value_parser = parse_millis, conflicts_with = "reconnect_min")]
    pub reconnect_min_ms: Option<Duration>,

    /// Old spelling of --reconnect-max.
    #[arg(long = "reconnect-max-ms", hide = true, value_name = "MS", value_parser = parse_millis, conflicts_with = "reconnect_max")]
    pub reconnect_max_ms: Option<Duration>,
}

/// An `http://` or `https://` URL with a host (an origin, or a base URL).
fn parse_url(s: &str) -> Result<String, String> {
    match crate::host::url_host(s) {
        Some(_) => Ok(s.trim_end_matches('/').to_string()),
        None => Err(format!(
            "{s:?} is not an http:// or https:// URL with a host name"
        )),
    }
}

impl Default for Args {
    fn default() -> Self {
        Args::parse_from(["web-gateway"])
    }
}

impl Args {
    /// The binary's command line, old spellings folded in (exits with a usage
    /// message on a bad one, like [`Parser::parse`]).
    pub fn from_command_line() -> Args {
        Args::parse().fold_old_spellings()
    }

    /// Parses `args` (the program name first) the way the binary does.
    pub fn try_from_args<I, T>(args: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Ok(Args::try_parse_from(args)?.fold_old_spellings())
    }

    /// Refuses values that cannot work (zero timeouts and caps).
    pub fn validate(&self) -> Result<(), String> {
        for (flag, d) in [
            ("--header-timeout", self.header_timeout),
            ("--body-idle-timeout", self.body_idle_timeout),
        ] {
            if d.is_zero() {
                return Err(format!("{flag} must be more than 0"));
            }
        }
        for (flag, n) in [
            ("--max-connections", self.max_connections),
            ("--max-connections-per-addr", self.max_connections_per_addr),
            ("--max-uploads", self.max_uploads),
            ("--max-uploads-per-user", self.max_uploads_per_user),
            ("--joins-per-minute", self.joins_per_minute as usize),
        ] {
            if n == 0 {
                return Err(format!("{flag} must be at least 1"));
            }
        }
        Ok(())
    }

    /// What the accept loop enforces.
    pub fn listen_config(&self) -> crate::listener::ListenConfig {
        crate::listener::ListenConfig {
            header_timeout: self.header_timeout,
            body_idle_timeout: self.body_idle_timeout,
            max_connections: self.max_connections,
            max_connections_per_addr: self.max_connections_per_addr,
            limit_loopback: self.limit_loopback,
            trusted_proxy: self.trusted_proxy,
        }
    }

    /// Moves the values given with the old `--*-ms` spellings into the new
    /// fields (clap already refused both spellings of one option at once).
    pub fn fold_old_spellings(mut self) -> Args {
        if let Some(d) = self.old.reconnect_min_ms.take() {
            self.reconnect_min = d;
        }
        if let Some(d) = self.old.reconnect_max_ms.take() {
            self.reconnect_max = d;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each old spelling, with its old unit, gives the same `Duration` as the
    /// new one.
    #[test]
    fn old_duration_spellings_still_parse() {
        let parse = |args: &[&str]| {
            Args::try_from_args(std::iter::once("web-gateway").chain(args.iter().copied()))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        };
        let old = parse(&[
            "--spool-expiry-secs",
            "600",
            "--session-grace-secs",
            "30",
            "--reconnect-min-ms",
            "200",
            "--reconnect-max-ms",
            "3000",
            "--core-ping-secs",
            "7",
        ]);
        let new = parse(&[
            "--spool-expiry",
            "10m",
            "--session-grace",
            "30s",
            "--reconnect-min",
            "200ms",
            "--reconnect-max",
            "3s",
            "--core-ping",
            "7s",
        ]);
        for args in [&old, &new] {
            assert_eq!(args.spool_expiry, Duration::from_secs(600));
            assert_eq!(args.session_grace, Duration::from_secs(30));
            assert_eq!(args.reconnect_min, Duration::from_millis(200));
            assert_eq!(args.reconnect_max, Duration::from_secs(3));
            assert_eq!(args.core_ping, Duration::from_secs(7));
            assert!(args.old.reconnect_min_ms.is_none() && args.old.reconnect_max_ms.is_none());
        }
        // A unit on an old `-ms` flag means what it says.
        assert_eq!(
            parse(&["--reconnect-max-ms", "2s"]).reconnect_max,
            Duration::from_secs(2)
        );
        // The defaults are the documented ones.
        let default = Args::default();
        assert_eq!(default.spool_expiry, Duration::from_secs(24 * 60 * 60));
        assert_eq!(default.session_grace, Duration::from_secs(60));
        assert_eq!(default.reconnect_min, Duration::from_millis(100));
        assert_eq!(default.reconnect_max, Duration::from_secs(5));
        assert_eq!(default.core_ping, Duration::from_secs(15));
        assert_eq!(default.header_timeout, Duration::from_secs(10));
        assert_eq!(default.body_idle_timeout, Duration::from_secs(30));
        assert_eq!(
            (default.max_connections, default.max_connections_per_addr),
            (10_000, 64)
        );
        assert!(!default.limit_loopback && default.trusted_proxy.is_none());
        assert_eq!(
            (default.max_uploads_per_user, default.joins_per_minute),
            (2, 10)
        );
        assert_eq!(default.validate(), Ok(()));
        assert!(parse(&["--header-timeout", "0s"]).validate().is_err());
        assert!(
            parse(&["--max-connections-per-addr", "0"])
                .validate()
                .is_err()
        );
        // Both spellings of one option at once are refused, not silently merged.
        assert!(
            Args::try_from_args([
                "web-gateway",
                "--reconnect-min",
                "1s",
                "--reconnect-min-ms",
                "5"
            ])
            .is_err()
        );
    }
}
