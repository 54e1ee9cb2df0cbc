//! Scenario 3, private messages between pairs: 2P users in the room, each
//! sending privately to its partner, closed-loop (a small window in flight).
//! Reports messages delivered per second and latency.

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
    pub pairs: usize,
    pub size: usize,
    pub duration: Duration,
    pub window: usize,
    pub max_per_sender: u64,
}

pub async fn run(target: &Target, server: &Server, params: &Params) -> Vec<Report> {
    let n = params.pairs * 2;
    let mut report = Report::new(
        "private",
        format!("pairs={}", params.pairs),
        target.system(),
    );
    server.settle(Duration::from_secs(30)).await;
    match Swarm::connect(target, n).await {
        Ok(swarm) => {
            let load = Load {
                senders: (0..n as u32).collect(),
                dest: Dest::Partner,
                size: params.size,
                duration: params.duration,
                max_per_sender: params.max_per_sender,
                excluded: Vec::new(),
            };
            let outcome = run_load(&swarm, &load, Pace::Window(params.window), server).await;
            outcome.add_to(&mut report, false);
            swarm.close().await;
        }
        Err(e) => {
            report.note(format!("could not run: {e}"));
        }
    }
    vec![report]
}
