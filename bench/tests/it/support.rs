//! Helpers: an in-process core server with benchmark-friendly limits, and
//! checks on reports.

use std::net::SocketAddr;

use bench::report::Report;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A core server running in this process until dropped.
pub struct Core {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the core on an ephemeral port, rate limits lifted (the loads send
/// faster than a person types), with `outbound_queue` frames per connection.
pub async fn core_with_queue(outbound_queue: usize) -> Core {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = core_server::Config {
        rate_per_sec: 1_000_000,
        rate_burst: 1_000_000,
        outbound_queue,
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(core_server::serve(listener, config, shutdown.clone()));
    Core { addr, shutdown }
}

pub async fn core() -> Core {
    core_with_queue(4096).await
}

/// The gateway token of in-test cores that a gateway links to.
const TOKEN: &str = "bench-test-token";

/// A core and a web gateway linked to it, both in this process.
pub struct Stack {
    pub core: Core,
    pub http: SocketAddr,
    /// Holds the gateway's spool directory for the test's duration.
    _spool: tempfile::TempDir,
}

impl Stack {
    pub fn target(&self) -> bench::client::Target {
        bench::client::Target::Gateway {
            base: format!("http://{}", self.http),
            core: self.core.addr,
        }
    }
}

/// Starts a core (benchmark limits) and a gateway in front of it whose
/// per-socket limits are lifted too.
pub async fn stack() -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = core_server::Config {
        rate_per_sec: 1_000_000,
        rate_burst: 1_000_000,
        gateway_token: Some(TOKEN.into()),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(core_server::serve(listener, config, shutdown.clone()));
    let core = Core { addr, shutdown };

    let spool = tempfile::tempdir().unwrap();
    let args = web_gateway::config::Args {
        ws_rate: 1_000_000,
        ws_burst: 1_000_000,
        spool_dir: Some(spool.path().to_path_buf()),
        ..Default::default()
    };
    let link = web_gateway::link::LinkConfig {
        addr: addr.to_string(),
        token: TOKEN.into(),
        backoff_min: std::time::Duration::from_millis(50),
        backoff_max: std::time::Duration::from_millis(500),
        ping_every: std::time::Duration::from_secs(15),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    tokio::spawn(web_gateway::serve(
        listener,
        args,
        link,
        core.shutdown.clone(),
    ));
    Stack {
        core,
        http,
        _spool: spool,
    }
}

/// The named figure of the report for `case`, which must exist and be measured.
pub fn figure(reports: &[Report], case: &str, name: &str) -> f64 {
    let report = reports
        .iter()
        .find(|r| r.case == case)
        .unwrap_or_else(|| panic!("no report for case {case:?}: {reports:#?}"));
    report
        .get(name)
        .unwrap_or_else(|| panic!("no figure {name:?} in {report:#?}"))
}

/// No report carries a note (notes mean losses, stalls or failures).
pub fn assert_clean(reports: &[Report]) {
    for report in reports {
        assert!(report.notes.is_empty(), "unexpected notes: {report:#?}");
    }
}
