//! Every scenario at tiny size: it runs, counts what it sent and received,
//! loses nothing, and reports the figures BENCHMARKS.md tabulates.

use std::time::Duration;

use bench::{client::Target, procfs::Server, scenario};

use crate::{
    fake_irc, fake_ws,
    support::{self, assert_clean, figure},
};

fn broadcast_params(clients: Vec<usize>) -> scenario::broadcast::Params {
    scenario::broadcast::Params {
        clients,
        senders: 4,
        size: 256,
        duration: Duration::from_millis(300),
        window: 4,
        max_per_sender: 200,
        p95_limit_ms: 500.0,
    }
}

fn private_params() -> scenario::private::Params {
    scenario::private::Params {
        pairs: 3,
        size: 256,
        duration: Duration::from_millis(300),
        window: 2,
        max_per_sender: 100,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_on_the_core() {
    let core = support::core().await;
    let target = Target::Native { addr: core.addr };
    let reports = scenario::broadcast::run(
        &target,
        &Server::in_process(),
        &broadcast_params(vec![2, 8]),
    )
    .await;
    assert_clean(&reports);
    assert!(figure(&reports, "N=8", "messages sent") >= 4.0);
    assert!(figure(&reports, "N=8", "deliveries/s") > 0.0);
    assert!(figure(&reports, "N=8", "latency p99 ms") > 0.0);
    assert_eq!(figure(&reports, "N=8", "lost deliveries"), 0.0);
    assert!(figure(&reports, "N=8", "server RSS MiB") > 0.0);
    assert!(figure(&reports, "N=8", "server CPU s per 1M deliveries") >= 0.0);
    assert_eq!(
        figure(&reports, "summary", "largest N with p95 < 500 ms"),
        8.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_on_the_core_climbs_every_step() {
    let core = support::core().await;
    let target = Target::Native { addr: core.addr };
    let params = scenario::fanout::Params {
        clients: 6,
        senders: 2,
        size: 256,
        rates: vec![40.0, 80.0],
        step: Duration::from_millis(300),
        p99_limit_ms: 1000.0,
    };
    let reports = scenario::fanout::run(&target, &Server::default(), &params).await;
    assert_clean(&reports);
    // 80 msg/s for 0.3 s from 2 senders: 12 each, 24 in all, 5 recipients each.
    assert_eq!(figure(&reports, "N=6 rate=80/s", "messages sent"), 24.0);
    assert_eq!(figure(&reports, "N=6 rate=80/s", "lost deliveries"), 0.0);
    assert_eq!(
        figure(
            &reports,
            "N=6 sustained",
            "highest publish rate held (msg/s)"
        ),
        80.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_pairs_on_the_core() {
    let core = support::core().await;
    let target = Target::Native { addr: core.addr };
    let reports = scenario::private::run(&target, &Server::default(), &private_params()).await;
    assert_clean(&reports);
    assert!(figure(&reports, "pairs=3", "messages sent") >= 6.0);
    assert_eq!(figure(&reports, "pairs=3", "lost deliveries"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_on_the_core() {
    let core = support::core().await;
    let target = Target::Native { addr: core.addr };
    let params = scenario::idle::Params {
        clients: 20,
        hold: Duration::ZERO,
    };
    let reports = scenario::idle::run(&target, &Server::in_process(), &params).await;
    assert_clean(&reports);
    assert!(figure(&reports, "N=20", "RSS with N idle MiB") > 0.0);
    figure(&reports, "N=20", "KiB per connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_and_chat_through_the_core() {
    let core = support::core().await;
    let target = Target::Native { addr: core.addr };
    let params = scenario::files::Params {
        size_mib: 2,
        chat_rate: 50.0,
        chat_size: 256,
    };
    let reports = scenario::files::run(&target, &Server::in_process(), &params).await;
    assert_clean(&reports);
    let case = "TCP→TCP 2 MiB";
    assert_eq!(figure(&reports, case, "bytes identical (1 = yes)"), 1.0);
    assert!(figure(&reports, case, "throughput MiB/s") > 0.0);
    assert!(figure(&reports, case, "chat messages during transfer") >= 1.0);
    assert_eq!(figure(&reports, case, "chat lost"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_reading_member_is_dropped_and_the_others_lose_nothing() {
    // A small room buffer (1 MiB, against 9.6 MB sent) so the stalled member
    // falls behind it quickly.
    let core = support::core_with_room_buffer(1 << 20).await;
    let target = Target::Native { addr: core.addr };
    // Bounded by count, not time: 2 × 1200 messages of 4000 bytes (9.6 MB)
    // overflow what the kernel absorbs for a socket that is not read (the
    // server's send buffer autotunes up to 4 MiB) and then the 1 MiB buffer,
    // however slowly this shared machine runs the test.
    let params = scenario::gateway::Params {
        clients: 4,
        senders: 2,
        size: 4000,
        duration: Duration::from_secs(60),
        // At most 2 messages in flight to anyone: readers stay far below
        // the queue limit; only the member that stopped reading overflows it.
        window: 1,
        max_per_sender: 1200,
    };
    let reports = scenario::gateway::run(&[target], &Server::in_process(), &params).await;
    let plain = "N=4 broadcast";
    let stalled = "N=4 + 1 never reading";
    assert_eq!(
        figure(&reports, plain, "lost deliveries"),
        0.0,
        "{reports:#?}"
    );
    assert_eq!(figure(&reports, stalled, "lost deliveries"), 0.0);
    assert!(figure(&reports, stalled, "messages sent") > 0.0);
    assert_eq!(
        figure(&reports, stalled, "never-reading client dropped (1 = yes)"),
        1.0,
        "{reports:#?}"
    );
    let notes = &reports.iter().find(|r| r.case == stalled).unwrap().notes;
    assert_eq!(notes.len(), 1, "{notes:?}");
    // The server says `bye slow_consumer` if the socket has room for it;
    // a socket that full may also just be closed mid-frame.
    assert!(notes[0].contains("dropped by the server"), "{notes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_irc_driver_runs_broadcast_private_and_idle() {
    let addr = fake_irc::start().await;
    let target = Target::Irc { addr };
    let server = Server::default();
    let reports = scenario::broadcast::run(&target, &server, &broadcast_params(vec![5])).await;
    assert_clean(&reports);
    assert!(figure(&reports, "N=5", "deliveries/s") > 0.0);
    assert_eq!(figure(&reports, "N=5", "lost deliveries"), 0.0);
    let reports = scenario::private::run(&target, &server, &private_params()).await;
    assert_clean(&reports);
    assert_eq!(figure(&reports, "pairs=3", "lost deliveries"), 0.0);
    let params = scenario::idle::Params {
        clients: 3,
        hold: Duration::ZERO,
    };
    assert_clean(&scenario::idle::run(&target, &server, &params).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_driver_runs_broadcast_and_private() {
    let url = fake_ws::start().await;
    let target = Target::WsPeer { url };
    let server = Server::default();
    let reports = scenario::broadcast::run(&target, &server, &broadcast_params(vec![5])).await;
    assert_clean(&reports);
    assert!(figure(&reports, "N=5", "deliveries/s") > 0.0);
    assert_eq!(figure(&reports, "N=5", "lost deliveries"), 0.0);
    let reports = scenario::private::run(&target, &server, &private_params()).await;
    assert_clean(&reports);
    assert_eq!(figure(&reports, "pairs=3", "lost deliveries"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_runs_a_scenario_and_renders_the_table() {
    let core = support::core().await;
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let bench = env!("CARGO_BIN_EXE_bench");
    let run = tokio::process::Command::new(bench)
        .args(["--json-out", results.to_str().unwrap()])
        .args(["broadcast", "--clients", "3", "--duration", "200ms"])
        .args(["native", "--addr", &core.addr.to_string()])
        .output()
        .await
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let report = tokio::process::Command::new(bench)
        .args(["report", results.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let table = String::from_utf8(report.stdout).unwrap();
    assert!(
        table.contains("| N=3 | lost deliveries | 0.000 |"),
        "{table}"
    );
    assert!(
        table.contains("| summary | largest N with p95 < 500 ms | 3.00 |"),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "bench broadcast --clients 3 --duration 200ms native --addr {}",
            core.addr
        )),
        "{table}"
    );
    let bad = tokio::process::Command::new(bench)
        .args(["broadcast", "native", "--addr", "not-an-address"])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
}
