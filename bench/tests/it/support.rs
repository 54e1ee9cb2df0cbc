//! Helpers: an in-process core (the shared `testkit::TestCore`) with
//! benchmark-friendly limits, a web gateway in front of one, and checks on
//! reports.

use std::net::SocketAddr;

use bench::report::Report;
use testkit::TestCore;
use tokio::net::TcpListener;

/// The core's configuration for loads: rate limits lifted (the loads send
/// faster than a person types), the rest the defaults.
fn bench_config() -> core_server::Config {
    core_server::Config {
        rate_per_sec: 1_000_000,
        rate_burst: 1_000_000,
        ..Default::default()
    }
}

/// Starts the core on an ephemeral port with benchmark limits and a room
/// buffer of `room_buffer` bytes (how far a member may fall behind before it
/// is dropped); it runs until dropped.
pub async fn core_with_room_buffer(room_buffer: usize) -> TestCore {
    TestCore::with(core_server::Config {
        room_buffer,
        ..bench_config()
    })
    .await
}

pub async fn core() -> TestCore {
    TestCore::with(bench_config()).await
}

/// A core and a web gateway linked to it, both in this process; dropping it
/// stops both (the gateway shares the core's shutdown token).
pub struct Stack {
    pub core: TestCore,
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

/// Starts a core (benchmark limits, accepting the gateway with
/// [`testkit::TOKEN`]) and a gateway in front of it whose per-socket limits
/// are lifted too.
pub async fn stack() -> Stack {
    let core = TestCore::with(core_server::Config {
        gateway_token: Some(testkit::TOKEN.into()),
        ..bench_config()
    })
    .await;

    let spool = tempfile::tempdir().unwrap();
    let args = web_gateway::config::Args {
        ws_rate: 1_000_000,
        ws_burst: 1_000_000,
        spool_dir: Some(spool.path().to_path_buf()),
        ..Default::default()
    };
    let link = web_gateway::link::LinkConfig {
        addr: core.addr.to_string(),
        token: testkit::TOKEN.into(),
        backoff_min: std::time::Duration::from_millis(50),
        backoff_max: std::time::Duration::from_millis(500),
        ping_every: std::time::Duration::from_secs(15),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    let shutdown = core.shutdown_token();
    let state = web_gateway::start(args, link, &shutdown).expect("gateway state");
    tokio::spawn(web_gateway::serve_state(listener, state.clone(), shutdown));
    // Joins before the link is up are answered 503: wait, as a browser would
    // be told to.
    assert!(
        state.link.wait_up(testkit::WAIT).await,
        "gateway link did not come up"
    );
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
