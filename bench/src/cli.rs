//! The command line: `bench <scenario> [options] <target> [target options]`,
//! plus `bench report` to turn collected results into Markdown tables.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    Error,
    client::Target,
    procfs::{self, Server},
    report::{self, Report},
    scenario,
};

/// Switchboard's load generator: the scenarios of BENCHMARKS.md, against
/// Switchboard (native TCP, web gateway) and its peers (IRC, Node `ws`).
/// Loopback only; every scenario is bounded in count and time.
#[derive(Debug, Parser)]
#[command(name = "bench", version)]
pub struct Cli {
    /// Append the results as JSON lines to this file (see `bench report`).
    #[arg(long, global = true)]
    pub json_out: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Scenario,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// 1. Broadcast capacity: N users, closed-loop senders; deliveries/s,
    ///    latency, largest N with p95 under the limit.
    Broadcast {
        #[command(flatten)]
        args: BroadcastArgs,
        #[command(subcommand)]
        target: TargetCmd,
    },
    /// 2. Sustained fan-out: fixed N, rising open-loop publish rate until
    ///    p99 exceeds the limit or anything is lost.
    Fanout {
        #[command(flatten)]
        args: FanoutArgs,
        #[command(subcommand)]
        target: TargetCmd,
    },
    /// 3. Private messages between pairs: messages/s and latency.
    Private {
        #[command(flatten)]
        args: PrivateArgs,
        #[command(subcommand)]
        target: TargetCmd,
    },
    /// 4. Idle connections: server memory per connected user.
    Idle {
        #[command(flatten)]
        args: IdleArgs,
        #[command(subcommand)]
        target: TargetCmd,
    },
    /// 5. Files: one large transfer's throughput and the latency of chat sent
    ///    to the same recipient meanwhile.
    Files {
        #[command(flatten)]
        args: FilesArgs,
        #[command(subcommand)]
        target: TargetCmd,
    },
    /// 6. Gateway cost: the broadcast load through the gateway vs direct TCP,
    ///    and with one member that never reads.
    Gateway {
        #[command(flatten)]
        args: GatewayArgs,
        #[command(subcommand)]
        target: TargetCmd,
    },
    /// Render JSON-lines results (from --json-out) as Markdown tables.
    Report {
        /// The JSON-lines file.
        input: PathBuf,
    },
}

/// The system under load.
#[derive(Debug, Clone, Subcommand)]
pub enum TargetCmd {
    /// Switchboard's core over its native TCP protocol.
    Native {
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        #[command(flatten)]
        pids: Pids,
    },
    /// An IRC server (e.g. ngircd); all users join one channel.
    Irc {
        #[arg(long, default_value = "127.0.0.1:6667")]
        addr: SocketAddr,
        #[command(flatten)]
        pids: Pids,
    },
    /// Switchboard's web gateway (WebSocket), with its core for TCP users.
    Gateway {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The core server behind the gateway.
        #[arg(long, default_value = "127.0.0.1:7878")]
        core: SocketAddr,
        #[command(flatten)]
        pids: Pids,
    },
    /// The reference Node `ws` broadcast server (bench/peers/ws-server.js).
    WsPeer {
        #[arg(long, default_value = "ws://127.0.0.1:8090/")]
        url: String,
        #[command(flatten)]
        pids: Pids,
    },
}

/// Which processes to measure.
#[derive(Debug, Clone, Args)]
pub struct Pids {
    /// A server process whose CPU time and RSS to measure; repeat for a
    /// gateway and its core. Without it, those figures are not reported.
    #[arg(long = "pid")]
    pub pids: Vec<u32>,
}

impl TargetCmd {
    fn resolve(&self) -> (Target, Server) {
        match self {
            TargetCmd::Native { addr, pids } => (
                Target::Native { addr: *addr },
                Server::new(pids.pids.clone()),
            ),
            TargetCmd::Irc { addr, pids } => {
                (Target::Irc { addr: *addr }, Server::new(pids.pids.clone()))
            }
            TargetCmd::Gateway { url, core, pids } => (
                Target::Gateway {
                    base: url.trim_end_matches('/').to_string(),
                    core: *core,
                },
                Server::new(pids.pids.clone()),
            ),
            TargetCmd::WsPeer { url, pids } => (
                Target::WsPeer { url: url.clone() },
                Server::new(pids.pids.clone()),
            ),
        }
    }
}

/// A duration flag: `5s`, `200ms`, `2m`; a bare number (the old `--*-secs`
/// spelling, kept for one release as an alias) is seconds and may have a
/// fraction (`0.2`).
fn seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err(format!("{s:?} is not a duration")),
        Err(_) => protocol::parse_duration(s),
    }
}

/// A latency limit: `500ms`, `1s`; a bare number (the old `--*-limit-ms`
/// spelling, kept for one release as an alias) is milliseconds.
fn millis(s: &str) -> Result<Duration, String> {
    protocol::parse_millis(s)
}

#[derive(Debug, Clone, Args)]
pub struct BroadcastArgs {
    /// Room sizes to run, one after the other.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000, 5000])]
    pub clients: Vec<usize>,
    /// Users sending at the same time.
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// How long to send per room size (`5s`).
    #[arg(long, alias = "duration-secs", default_value = "5s", value_parser = seconds)]
    pub duration: Duration,
    /// Messages each sender may have in flight (not yet at every recipient).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub window: u64,
    /// Most messages per sender per room size.
    #[arg(long, default_value_t = 100_000)]
    pub max_per_sender: u64,
    /// The latency limit for "largest N".
    #[arg(long, alias = "p95-limit-ms", default_value = "500ms", value_parser = millis)]
    pub p95_limit: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Total publish rates to try in turn (messages/s, all senders).
    #[arg(long, value_delimiter = ',', default_values_t = [25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0])]
    pub rates: Vec<f64>,
    /// How long each rate step lasts (`3s`).
    #[arg(long, alias = "step-secs", default_value = "3s", value_parser = seconds)]
    pub step: Duration,
    #[arg(long, alias = "p99-limit-ms", default_value = "100ms", value_parser = millis)]
    pub p99_limit: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct PrivateArgs {
    #[arg(long, default_value_t = 500)]
    pub pairs: usize,
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    #[arg(long, alias = "duration-secs", default_value = "5s", value_parser = seconds)]
    pub duration: Duration,
    /// Messages each user may have in flight to its partner.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub window: u64,
    #[arg(long, default_value_t = 100_000)]
    pub max_per_sender: u64,
}

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    #[arg(long, default_value_t = 5000)]
    pub clients: usize,
    /// How long the users stay idle before the reading (`2s`).
    #[arg(long, alias = "hold-secs", default_value = "2s", value_parser = seconds)]
    pub hold: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct FilesArgs {
    #[arg(long, default_value_t = 100)]
    pub size_mib: u64,
    /// Chat messages per second to the recipient during the transfer (the
    /// server's per-user rate limit must allow it).
    #[arg(long, default_value_t = 50.0)]
    pub chat_rate: f64,
    #[arg(long, default_value_t = 256)]
    pub chat_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    #[arg(long, default_value_t = 500)]
    pub clients: usize,
    #[arg(long, default_value_t = 4)]
    pub senders: usize,
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    #[arg(long, alias = "duration-secs", default_value = "5s", value_parser = seconds)]
    pub duration: Duration,
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub window: u64,
    #[arg(long, default_value_t = 100_000)]
    pub max_per_sender: u64,
}

/// Runs one scenario (or renders a report) and returns its results.
pub async fn run(cli: &Cli) -> Result<Vec<Report>, Error> {
    procfs::raise_fd_limit();
    let reports = match &cli.command {
        Scenario::Broadcast { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::broadcast::Params {
                clients: args.clients.clone(),
                senders: args.senders,
                size: args.size,
                duration: args.duration,
                window: args.window as usize,
                max_per_sender: args.max_per_sender,
                p95_limit_ms: args.p95_limit.as_secs_f64() * 1000.0,
            };
            scenario::broadcast::run(&target, &server, &params).await
        }
        Scenario::Fanout { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::fanout::Params {
                clients: args.clients,
                senders: args.senders,
                size: args.size,
                rates: args.rates.clone(),
                step: args.step,
                p99_limit_ms: args.p99_limit.as_secs_f64() * 1000.0,
            };
            scenario::fanout::run(&target, &server, &params).await
        }
        Scenario::Private { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::private::Params {
                pairs: args.pairs,
                size: args.size,
                duration: args.duration,
                window: args.window as usize,
                max_per_sender: args.max_per_sender,
            };
            scenario::private::run(&target, &server, &params).await
        }
        Scenario::Idle { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::idle::Params {
                clients: args.clients,
                hold: args.hold,
            };
            scenario::idle::run(&target, &server, &params).await
        }
        Scenario::Files { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::files::Params {
                size_mib: args.size_mib,
                chat_rate: args.chat_rate,
                chat_size: args.chat_size,
            };
            scenario::files::run(&target, &server, &params).await
        }
        Scenario::Gateway { args, target } => {
            let (target, server) = target.resolve();
            let targets = match &target {
                Target::Gateway { core, .. } => {
                    vec![Target::Native { addr: *core }, target.clone()]
                }
                Target::Native { .. } => vec![target.clone()],
                other => {
                    return Err(Error::Setup(format!(
                        "the gateway scenario runs against `gateway` (or `native` alone), not {}",
                        other.system()
                    )));
                }
            };
            let params = scenario::gateway::Params {
                clients: args.clients,
                senders: args.senders,
                size: args.size,
                duration: args.duration,
                window: args.window as usize,
                max_per_sender: args.max_per_sender,
            };
            scenario::gateway::run(&targets, &server, &params).await
        }
        Scenario::Report { input } => report::load(input)?,
    };
    if let (Some(path), false) = (
        &cli.json_out,
        matches!(cli.command, Scenario::Report { .. }),
    ) {
        report::append(path, &reports)?;
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn broadcast(args: &[&str]) -> BroadcastArgs {
        let argv = ["bench", "broadcast"]
            .iter()
            .chain(args)
            .chain(&["native", "--addr", "127.0.0.1:1"])
            .copied();
        match Cli::try_parse_from(argv).unwrap().command {
            Scenario::Broadcast { args, .. } => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations_are_written_like_the_other_binaries_and_old_spellings_still_work() {
        let new = broadcast(&["--duration", "200ms", "--p95-limit", "1s"]);
        assert_eq!(new.duration, Duration::from_millis(200));
        assert_eq!(new.p95_limit, Duration::from_secs(1));
        let old = broadcast(&["--duration-secs", "0.2", "--p95-limit-ms", "1000"]);
        assert_eq!(old.duration, Duration::from_millis(200));
        assert_eq!(old.p95_limit, Duration::from_secs(1));
        let default = broadcast(&[]);
        assert_eq!(default.duration, Duration::from_secs(5));
        assert_eq!(default.p95_limit, Duration::from_millis(500));
        assert!(seconds("-1").is_err());
        assert!(seconds("5h").is_err());
    }
}
