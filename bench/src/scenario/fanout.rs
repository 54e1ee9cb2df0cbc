//! Scenario 2, sustained fan-out: a fixed room of N users, senders publishing
//! open-loop at a fixed total rate, the rate rising step by step until the
//! delivery p99 exceeds the limit or anything is lost. The last step that held
//! is the sustained capacity.

use std::time::Duration;

use crate::{
    client::Target,
    procfs::Server,
    report::Report,
    scenario::{Dest, Load, Pace, run_load},
    swarm::Swarm,
};

#[derive(Debug, Clone)]
pub struct Params {
    pub clients: usize,
    pub senders: usize,
    pub size: usize,
    /// Total publish rates (messages per second, all senders together).
    pub rates: Vec<f64>,
    pub step: Duration,
    pub p99_limit_ms: f64,
}

pub async fn run(target: &Target, server: &Server, params: &Params) -> Vec<Report> {
    let n = params.clients;
    let mut reports = Vec::new();
    let mut summary = Report::new("fanout", format!("N={n} sustained"), target.system());
    server.settle(Duration::from_secs(30)).await;
    let swarm = match Swarm::connect(target, n).await {
        Ok(swarm) => swarm,
        Err(e) => {
            summary.note(format!("could not run: {e}"));
            return vec![summary];
        }
    };
    let senders = params.senders.min(n).max(1);
    let mut best: Option<(f64, f64)> = None;
    for &rate in &params.rates {
        swarm.rec.reset();
        let load = Load {
            senders: (0..senders as u32).collect(),
            dest: Dest::Room,
            size: params.size,
            duration: params.step,
            max_per_sender: (rate / senders as f64 * params.step.as_secs_f64()).ceil() as u64,
            excluded: Vec::new(),
        };
        let outcome = run_load(&swarm, &load, Pace::Rate(rate / senders as f64), server).await;
        let mut report = Report::new("fanout", format!("N={n} rate={rate}/s"), target.system());
        outcome.add_to(&mut report, false);
        let held = outcome.lost == 0
            && outcome.disconnected == 0
            && outcome.delivery.p99_ms <= params.p99_limit_ms;
        reports.push(report);
        if !held {
            break;
        }
        best = Some((rate, outcome.deliveries_per_sec()));
    }
    swarm.close().await;
    summary
        .figure("highest publish rate held (msg/s)", best.map(|b| b.0))
        .figure("deliveries/s at that rate", best.map(|b| b.1));
    reports.push(summary);
    reports
}
