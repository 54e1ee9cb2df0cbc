//! Scenario 6, gateway cost and the slow consumer.
//!
//! - The same closed-loop broadcast load (scenario 1's) through the web
//!   gateway's WebSocket and directly over TCP to the core behind it.
//! - The same load with one extra member that stops reading: the others'
//!   latency and the server's memory must stay flat, and the server should
//!   drop the stalled member rather than buffer for it without bound.

use std::{sync::Arc, time::Duration};

use crate::{
    client::{self, Command, Target},
    metrics::Recorder,
    procfs::Server,
    report::Report,
    scenario::{Dest, Load, Pace, RssWatch, run_load},
    swarm::Swarm,
};

#[derive(Debug, Clone)]
pub struct Params {
    pub clients: usize,
    pub senders: usize,
    pub size: usize,
    pub duration: Duration,
    pub window: usize,
    pub max_per_sender: u64,
}

/// Runs the comparison. `targets` is the direct TCP target and, when the
/// gateway is available, the gateway target.
pub async fn run(targets: &[Target], server: &Server, params: &Params) -> Vec<Report> {
    let mut reports = Vec::new();
    for target in targets {
        let mut report = Report::new(
            "gateway",
            format!("N={} broadcast", params.clients),
            target.system(),
        );
        if let Err(e) = plain(target, server, params, &mut report).await {
            report.note(format!("could not run: {e}"));
        }
        reports.push(report);
    }
    for target in targets {
        let mut report = Report::new(
            "gateway",
            format!("N={} + 1 never reading", params.clients),
            target.system(),
        );
        if let Err(e) = with_stalled(target, server, params, &mut report).await {
            report.note(format!("could not run: {e}"));
        }
        reports.push(report);
    }
    reports
}

fn load(params: &Params, n: usize, excluded: Vec<u32>) -> Load {
    Load {
        senders: (0..params.senders.min(n) as u32).collect(),
        dest: Dest::Room,
        size: params.size,
        duration: params.duration,
        max_per_sender: params.max_per_sender,
        excluded,
    }
}

async fn plain(
    target: &Target,
    server: &Server,
    params: &Params,
    report: &mut Report,
) -> Result<(), crate::Error> {
    server.settle(Duration::from_secs(30)).await;
    let swarm = Swarm::connect(target, params.clients).await?;
    let outcome = run_load(
        &swarm,
        &load(params, params.clients, Vec::new()),
        Pace::Window(params.window),
        server,
    )
    .await;
    outcome.add_to(report, true);
    swarm.close().await;
    Ok(())
}

async fn with_stalled(
    target: &Target,
    server: &Server,
    params: &Params,
    report: &mut Report,
) -> Result<(), crate::Error> {
    server.settle(Duration::from_secs(30)).await;
    let n = params.clients;
    let rec = Arc::new(Recorder::new(n + 1));
    let mut swarm = Swarm::connect_with(target, n, rec.clone()).await?;
    let stalled_idx = n as u32;
    let stalled = client::connect_slow(
        target,
        stalled_idx,
        format!("{}slow", swarm.clients[0].name),
        rec.clone(),
    )
    .await?;
    swarm.clients.push(stalled);
    // Everyone (the slow one included) has seen the slow one join.
    swarm.sync_among(n as u64).await?;
    swarm.clients[n].send(Command::StopReading).await;
    let watch = RssWatch::start(server);
    let outcome = run_load(
        &swarm,
        &load(params, n + 1, vec![stalled_idx]),
        Pace::Window(params.window),
        server,
    )
    .await;
    let rss = watch.stop();
    outcome.add_to(report, true);
    let stalled = swarm.clients.pop().expect("the stalled client");
    let end = stalled.quit(Duration::from_secs(10)).await;
    report
        .figure("server RSS at start MiB", rss.map(|r| r.0 as f64 / 1024.0))
        .figure("server RSS peak MiB", rss.map(|r| r.1 as f64 / 1024.0))
        .figure(
            "never-reading client dropped (1 = yes)",
            f64::from(u8::from(end.closed_by_server)),
        );
    report.note(format!(
        "the never-reading client: {}",
        if end.closed_by_server {
            format!(
                "dropped by the server ({})",
                end.reason.as_deref().unwrap_or("connection closed")
            )
        } else {
            "still connected at the end of the phase".to_string()
        }
    ));
    swarm.close().await;
    Ok(())
}
