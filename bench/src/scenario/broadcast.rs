//! Scenario 1, broadcast capacity: N users in the room, a few of them sending
//! 256-byte messages closed-loop (each sender keeps a small window of messages
//! in flight; one is done when every other member has it). Reports deliveries
//! per second, delivery latency, and the largest N whose p95 stays under the
//! limit.

use std::time::Duration;

use crate::{
    client::Target,
    procfs::Server,
    report::Report,
    scenario::{Dest, Load, Pace, run_load},
    swarm::Swarm,
};

/// Parameters (the command line's).
#[derive(Debug, Clone)]
pub struct Params {
    pub clients: Vec<usize>,
    pub senders: usize,
    pub size: usize,
    pub duration: Duration,
    pub window: usize,
    pub max_per_sender: u64,
    pub p95_limit_ms: f64,
}

pub async fn run(target: &Target, server: &Server, params: &Params) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut largest_ok = None;
    for &n in &params.clients {
        let mut report = Report::new("broadcast", format!("N={n}"), target.system());
        match phase(target, server, params, n, &mut report).await {
            Ok(p95) => {
                if p95 < params.p95_limit_ms {
                    largest_ok = Some(n);
                }
            }
            Err(e) => {
                report.note(format!("could not run: {e}"));
            }
        }
        reports.push(report);
    }
    let mut summary = Report::new("broadcast", "summary", target.system());
    summary.figure(
        &format!("largest N with p95 < {} ms", params.p95_limit_ms),
        largest_ok.map(|n| n as f64),
    );
    reports.push(summary);
    reports
}

/// One N: connect, load, measure, leave. Returns the delivery p95.
async fn phase(
    target: &Target,
    server: &Server,
    params: &Params,
    n: usize,
    report: &mut Report,
) -> Result<f64, crate::Error> {
    server.settle(Duration::from_secs(30)).await;
    let swarm = Swarm::connect(target, n).await?;
    let load = Load {
        senders: (0..params.senders.min(n) as u32).collect(),
        dest: Dest::Room,
        size: params.size,
        duration: params.duration,
        max_per_sender: params.max_per_sender,
        excluded: Vec::new(),
    };
    let outcome = run_load(&swarm, &load, Pace::Window(params.window), server).await;
    outcome.add_to(report, true);
    swarm.close().await;
    let ok = outcome.lost == 0 && outcome.stalled_senders == 0;
    Ok(if ok {
        outcome.delivery.p95_ms
    } else {
        f64::INFINITY
    })
}
