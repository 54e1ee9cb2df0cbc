//! Every limit and option of the server, as command-line flags (`clap`) and as
//! a plain struct for embedding ([`Config::default`] gives the documented
//! defaults).

use std::{net::SocketAddr, time::Duration};

use clap::Args;

use protocol::{Limits, MAX_TOKEN_LEN, MIN_TOKEN_LEN, parse_duration, parse_size};

use crate::error::ServerError;

/// Default address of the server (`--listen`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// The server's configuration. `clap` documents each field as a flag; the
/// embedding web gateway builds one with `Config { .., ..Default::default() }`.
#[derive(Args, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on for terminal clients and gateway links. Only used by
    /// the `core-server` binary; an embedder passes its own listener to `serve`.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// How many recent room messages a joiner receives as history.
    #[arg(long, default_value_t = 100)]
    pub history: usize,

    /// Largest frame a client may send, in bytes (checked before allocating).
    /// Must leave room for a file chunk (64 KiB) and the longest message.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_frame: u32,

    /// Longest message text, in bytes of UTF-8.
    #[arg(long, default_value_t = 4096)]
    pub max_message: u32,

    /// Largest file or image, in bytes.
    #[arg(long, default_value_t = 100 * 1024 * 1024)]
    pub max_file: u64,

    /// Frames per second a user may send once its burst is used (token bucket
    /// refill rate; file chunks are not counted).
    #[arg(long, default_value_t = 20)]
    pub rate_per_sec: u32,

    /// Frames a user may send at once (token bucket size).
    #[arg(long, default_value_t = 40)]
    pub rate_burst: u32,

    /// Most simultaneous connections (a gateway link counts as one); more are
    /// refused with `bye server_full`.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,

    /// Time a new connection has to say hello and join (e.g. `10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub login_timeout: Duration,

    /// The server pings a connection it has heard nothing from for this long.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// A connection the server has heard nothing from for this long is dropped
    /// (`bye ping_timeout`). Must be longer than the ping interval.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub ping_timeout: Duration,

    /// Room-wide frames (messages, joins, leaves) the room keeps, in bytes
    /// (e.g. `64MiB`), shared by every member: a member more than this far
    /// behind is dropped (`bye slow_consumer`). Each frame counts 64 bytes
    /// extra.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub room_buffer: usize,

    /// Bytes of frames for one connection only (replies, welcome, private
    /// messages, file events) queued before it counts as not reading and is
    /// dropped (`bye slow_consumer`), e.g. `1MiB`. One frame always fits.
    #[arg(long, default_value = "1MiB", value_parser = parse_bytes)]
    pub outbound_queue: usize,

    /// The same bound for a gateway link, e.g. `64MiB` (it carries many users:
    /// their welcomes and private messages).
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub gateway_queue: usize,

    /// Per-transfer credit window, in bytes (announced as
    /// `limits.file_window`): how much of a file a sender may send before the
    /// server grants more, and how much the server sends one recipient before
    /// it credits back. The server buffers at most this much per copy.
    #[arg(long, default_value_t = protocol::DEFAULT_FILE_WINDOW)]
    pub file_window: u64,

    /// A transfer whose sender sends nothing it has credit for, for this long,
    /// is aborted (`transfer_idle`); so is one recipient's copy when that
    /// recipient owes credit and grants none for this long. Nobody holds a
    /// transfer (or a recipient's spool) by going quiet.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub transfer_idle_timeout: Duration,

    /// Files one user may be sending at once.
    #[arg(long, default_value_t = 8)]
    pub max_transfers: usize,

    /// On shutdown, how long a connection's queued frames may take to drain
    /// before the connection is closed anyway.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Shared secret that makes a connection a gateway link (see PROTOCOL.md).
    /// Without it, gateway links are refused.
    #[arg(
        long,
        env = "SWITCHBOARD_GATEWAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub gateway_token: Option<String>,

    /// Simultaneous connections from one address (an IPv4 address or an IPv6
    /// /64); more are refused with `bye too_many_connections`.
    #[arg(long, default_value_t = 16)]
    pub max_connections_per_addr: usize,

    /// Joins per minute from one address (a gateway names each browser's);
    /// more are refused with `rate_limited`.
    #[arg(long, default_value_t = 30)]
    pub joins_per_minute: u32,

    /// Wrong gateway tokens from one address before it is locked out.
    #[arg(long, default_value_t = 5)]
    pub max_auth_failures: u32,

    /// How long wrong gateway tokens are counted, and a lockout lasts.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub auth_lockout: Duration,

    /// How long a wrong gateway token waits before it is answered.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub auth_delay: Duration,

    /// Apply the per-address limits to loopback addresses too (by default
    /// local connections are exempt, so local use and benchmarks work).
    #[arg(long)]
    pub limit_loopback: bool,

    /// Most bytes of history (its JSON) a joiner receives; the oldest
    /// messages are dropped first. Bounds what a welcome costs.
    #[arg(long, default_value_t = 128 * 1024)]
    pub history_bytes: usize,
}

impl Default for Config {
    /// The same values as the command line's defaults (a unit test checks);
    /// unlike the command line it never reads the environment.
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            history: 100,
            max_frame: 1024 * 1024,
            max_message: 4096,
            max_file: 100 * 1024 * 1024,
            rate_per_sec: 20,
            rate_burst: 40,
            max_connections: 10_000,
            login_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(60),
            room_buffer: 64 << 20,
            outbound_queue: 1 << 20,
            gateway_queue: 64 << 20,
            file_window: protocol::DEFAULT_FILE_WINDOW,
            transfer_idle_timeout: Duration::from_secs(30),
            max_transfers: 8,
            drain_timeout: Duration::from_secs(5),
            gateway_token: None,
            max_connections_per_addr: 16,
            joins_per_minute: 30,
            max_auth_failures: 5,
            auth_lockout: Duration::from_secs(600),
            auth_delay: Duration::from_secs(1),
            limit_loopback: false,
            history_bytes: 128 * 1024,
        }
    }
}

/// Like a derived `Debug`, but the gateway token is never printed, so logging a
/// configuration cannot leak the secret.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("history", &self.history)
            .field("max_frame", &self.max_frame)
            .field("max_message", &self.max_message)
            .field("max_file", &self.max_file)
            .field("rate_per_sec", &self.rate_per_sec)
            .field("rate_burst", &self.rate_burst)
            .field("max_connections", &self.max_connections)
            .field("login_timeout", &self.login_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("room_buffer", &self.room_buffer)
            .field("outbound_queue", &self.outbound_queue)
            .field("gateway_queue", &self.gateway_queue)
            .field("file_window", &self.file_window)
            .field("transfer_idle_timeout", &self.transfer_idle_timeout)
            .field("max_transfers", &self.max_transfers)
            .field("drain_timeout", &self.drain_timeout)
            .field(
                "gateway_token",
                &self.gateway_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_connections_per_addr", &self.max_connections_per_addr)
            .field("joins_per_minute", &self.joins_per_minute)
            .field("max_auth_failures", &self.max_auth_failures)
            .field("auth_lockout", &self.auth_lockout)
            .field("auth_delay", &self.auth_delay)
            .field("limit_loopback", &self.limit_loopback)
            .field("history_bytes", &self.history_bytes)
            .finish()
    }
}

/// A byte count flag (`65536`, `512KiB`, `64MiB`).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let size = parse_size(text)?;
    usize::try_from(size).map_err(|_| format!("{text} is too large"))
}

/// The smallest `--room-buffer`. A member's lag is what its writer task has
/// not yet copied out of the ring, whatever its socket holds, so the ring must
/// cover what the room produces while that task waits for a CPU. 64 KiB is
/// about a millisecond of room traffic on loopback, less than one scheduling
/// slice on a loaded two-core machine: writers of members reading promptly (with
/// empty socket buffers) were dropped as `slow_consumer`. 1 MiB is tens of ms.
pub const MIN_ROOM_BUFFER: usize = 1 << 20;

/// Bytes a frame needs beyond its text or payload: prefixes and JSON header.
const FRAME_OVERHEAD: u32 = 1024;

impl Config {
    /// The limits announced to clients in the server's hello.
    pub fn limits(&self) -> Limits {
        Limits {
            max_frame: self.max_frame,
            max_message: self.max_message,
            max_file: self.max_file,
            rate_per_sec: self.rate_per_sec,
            rate_burst: self.rate_burst,
            file_window: self.file_window,
        }
    }

    /// Refuses combinations that cannot work, so a misconfiguration is one clear
    /// error at start rather than odd behaviour later.
    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |why: String| Err(ServerError::Config(why));
        let min_frame = (protocol::CHUNK_SIZE as u32).max(self.max_message) + FRAME_OVERHEAD;
        if self.max_frame < min_frame {
            return bad(format!(
                "--max-frame must be at least {min_frame} (a 64 KiB chunk or the longest message, plus header)"
            ));
        }
        if self.max_message == 0 {
            return bad("--max-message must be at least 1".into());
        }
        if self.rate_per_sec == 0 || self.rate_burst == 0 {
            return bad("--rate-per-sec and --rate-burst must be at least 1".into());
        }
        if [
            self.max_connections,
            self.outbound_queue,
            self.gateway_queue,
        ]
        .contains(&0)
        {
            return bad(
                "--max-connections, --outbound-queue and --gateway-queue must be at least 1".into(),
            );
        }
        // A whole chunk must fit in the window, or a sender could never send one.
        const MAX_WINDOW: u64 = 1 << 30;
        if self.file_window < protocol::CHUNK_SIZE as u64 || self.file_window > MAX_WINDOW {
            return bad(format!(
                "--file-window must be from {} (one chunk) to {MAX_WINDOW} bytes",
                protocol::CHUNK_SIZE
            ));
        }
        if self.transfer_idle_timeout < Duration::from_millis(100) {
            return bad("--transfer-idle-timeout must be at least 100ms".into());
        }
        if self.room_buffer < MIN_ROOM_BUFFER {
            return bad(format!(
                "--room-buffer must be at least {MIN_ROOM_BUFFER} bytes (1MiB)"
            ));
        }
        if self.ping_interval.is_zero() || self.ping_timeout <= self.ping_interval {
            return bad("--ping-timeout must be longer than a non-zero --ping-interval".into());
        }
        if let Some(token) = &self.gateway_token
            && !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
        {
            return bad(format!(
                "--gateway-token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} bytes (a long random secret); this one is {}",
                token.len()
            ));
        }
        if self.max_connections_per_addr == 0
            || self.joins_per_minute == 0
            || self.max_auth_failures == 0
        {
            return bad("--max-connections-per-addr, --joins-per-minute and --max-auth-failures must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn default_matches_the_command_line_defaults() {
        let mut parsed = Cli::parse_from(["core-server"]).config;
        parsed.gateway_token = None; // the environment may set it
        assert_eq!(parsed, Config::default());
        Config::default().validate().unwrap();
    }

    #[test]
    fn sizes_are_written_with_units() {
        let parsed = Cli::parse_from([
            "core-server",
            "--room-buffer",
            "8MiB",
            "--outbound-queue",
            "256KiB",
            "--gateway-queue",
            "1048576",
        ])
        .config;
        assert_eq!(parsed.room_buffer, 8 << 20);
        assert_eq!(parsed.outbound_queue, 256 << 10);
        assert_eq!(parsed.gateway_queue, 1 << 20);
        assert!(Cli::try_parse_from(["core-server", "--outbound-queue", "lots"]).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = Config {
            gateway_token: Some("hunter2".into()),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn impossible_configurations_are_refused() {
        let bad = [
            Config {
                max_frame: 1000,
                ..Config::default()
            },
            Config {
                ping_timeout: Duration::from_secs(1),
                ping_interval: Duration::from_secs(2),
                ..Config::default()
            },
            Config {
                gateway_token: Some(String::new()),
                ..Config::default()
            },
            Config {
                room_buffer: 1000,
                ..Config::default()
            },
            Config {
                file_window: 1000,
                ..Config::default()
            },
            Config {
                transfer_idle_timeout: Duration::ZERO,
                ..Config::default()
            },
            Config {
                gateway_token: Some("short-secret".into()),
                ..Config::default()
            },
            Config {
                gateway_token: Some("x".repeat(MAX_TOKEN_LEN + 1)),
                ..Config::default()
            },
        ];
        Config {
            gateway_token: Some("x".repeat(MIN_TOKEN_LEN)),
            ..Config::default()
        }
        .validate()
        .unwrap();
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
    }
}
