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

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
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
    /// Seconds of sending per room size.
    #[arg(long, default_value_t = 5.0)]
    pub duration_secs: f64,
    /// Messages each sender may have in flight (not yet at every recipient).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub window: u64,
    /// Most messages per sender per room size.
    #[arg(long, default_value_t = 100_000)]
    pub max_per_sender: u64,
    /// The latency limit for "largest N".
    #[arg(long, default_value_t = 500.0)]
    pub p95_limit_ms: f64,
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
    /// Seconds per rate step.
    #[arg(long, default_value_t = 3.0)]
    pub step_secs: f64,
    #[arg(long, default_value_t = 100.0)]
    pub p99_limit_ms: f64,
}

#[derive(Debug, Clone, Args)]
pub struct PrivateArgs {
    #[arg(long, default_value_t = 500)]
    pub pairs: usize,
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    #[arg(long, default_value_t = 5.0)]
    pub duration_secs: f64,
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
    /// Seconds the users stay idle before the reading.
    #[arg(long, default_value_t = 2.0)]
    pub hold_secs: f64,
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
    #[arg(long, default_value_t = 5.0)]
    pub duration_secs: f64,
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
                duration: secs(args.duration_secs),
                window: args.window as usize,
                max_per_sender: args.max_per_sender,
                p95_limit_ms: args.p95_limit_ms,
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
                step: secs(args.step_secs),
                p99_limit_ms: args.p99_limit_ms,
            };
            scenario::fanout::run(&target, &server, &params).await
        }
        Scenario::Private { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::private::Params {
                pairs: args.pairs,
                size: args.size,
                duration: secs(args.duration_secs),
                window: args.window as usize,
                max_per_sender: args.max_per_sender,
            };
            scenario::private::run(&target, &server, &params).await
        }
        Scenario::Idle { args, target } => {
            let (target, server) = target.resolve();
            let params = scenario::idle::Params {
                clients: args.clients,
                hold: secs(args.hold_secs),
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
                duration: secs(args.duration_secs),
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
