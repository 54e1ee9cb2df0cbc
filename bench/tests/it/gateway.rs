//! The web gateway's WebSocket and upload paths, driven like browsers do.

use std::time::Duration;

use bench::{procfs::Server, scenario};

use crate::support::{self, assert_clean, figure};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_through_the_gateway_and_direct() {
    let stack = support::stack().await;
    let target = stack.target();
    let params = scenario::gateway::Params {
        clients: 4,
        senders: 2,
        size: 256,
        duration: Duration::from_millis(300),
        window: 2,
        max_per_sender: 200,
    };
    let bench::client::Target::Gateway { core, .. } = &target else {
        unreachable!()
    };
    let targets = [
        bench::client::Target::Native { addr: *core },
        target.clone(),
    ];
    let reports = scenario::gateway::run(&targets, &Server::in_process(), &params).await;
    let plain: Vec<_> = reports
        .iter()
        .filter(|r| r.case == "N=4 broadcast")
        .cloned()
        .collect();
    assert_eq!(plain.len(), 2, "{reports:#?}");
    assert_clean(&plain);
    for report in &plain {
        assert!(report.get("deliveries/s").unwrap() > 0.0, "{report:#?}");
        assert_eq!(report.get("lost deliveries"), Some(0.0), "{report:#?}");
    }
    assert_eq!(plain[1].system, "switchboard-ws");
    let stalled = reports
        .iter()
        .find(|r| r.case == "N=4 + 1 never reading" && r.system == "switchboard-ws")
        .unwrap();
    assert_eq!(stalled.get("lost deliveries"), Some(0.0), "{stalled:#?}");
    // Whether the gateway drops it depends on megabytes of socket buffers
    // filling first: the full benchmark reports that; here the others must
    // simply not suffer.
    assert!(
        stalled
            .get("never-reading client dropped (1 = yes)")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_upload_reaches_a_terminal_user_intact() {
    let stack = support::stack().await;
    let params = scenario::files::Params {
        size_mib: 2,
        chat_rate: 50.0,
        chat_size: 256,
    };
    let reports = scenario::files::run(&stack.target(), &Server::in_process(), &params).await;
    assert_clean(&reports);
    let case = "upload→TCP 2 MiB";
    assert_eq!(figure(&reports, case, "bytes identical (1 = yes)"), 1.0);
    assert!(figure(&reports, case, "throughput MiB/s") > 0.0);
    assert_eq!(figure(&reports, case, "chat lost"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_browsers_cost_memory_in_the_gateway() {
    let stack = support::stack().await;
    let params = scenario::idle::Params {
        clients: 10,
        hold: Duration::ZERO,
    };
    let reports = scenario::idle::run(&stack.target(), &Server::in_process(), &params).await;
    assert_clean(&reports);
    figure(&reports, "N=10", "KiB per connection");
}
