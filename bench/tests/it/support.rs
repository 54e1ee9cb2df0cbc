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
