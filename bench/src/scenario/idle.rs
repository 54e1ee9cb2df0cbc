//! Scenario 4, idle connections: N users join and sit still; the server's
//! resident memory grows by the cost of holding them. Run it against a freshly
//! started server: an allocator that already holds freed memory from earlier
//! phases would hide the cost.

use std::time::Duration;

use crate::{client::Target, procfs::Server, report::Report, swarm::Swarm};

#[derive(Debug, Clone)]
pub struct Params {
    pub clients: usize,
    /// How long the users stay connected before the reading.
    pub hold: Duration,
}

pub async fn run(target: &Target, server: &Server, params: &Params) -> Vec<Report> {
    let n = params.clients;
    let mut report = Report::new("idle", format!("N={n}"), target.system());
    server.settle(Duration::from_secs(30)).await;
    let before = server.sample();
    match Swarm::connect(target, n).await {
        Ok(swarm) => {
            tokio::time::sleep(params.hold).await;
            let after = server.sample();
            let per_conn = before
                .zip(after)
                .map(|(b, a)| (a.rss_kib as f64 - b.rss_kib as f64) / n as f64);
            report
                .figure("RSS before MiB", before.map(|s| s.rss_kib as f64 / 1024.0))
                .figure(
                    "RSS with N idle MiB",
                    after.map(|s| s.rss_kib as f64 / 1024.0),
                )
                .figure("KiB per connection", per_conn);
            if swarm.rec.disconnected_count() > 0 {
                report.note(format!(
                    "{} idle clients were disconnected",
                    swarm.rec.disconnected_count()
                ));
            }
            swarm.close().await;
        }
        Err(e) => {
            report.note(format!("could not run: {e}"));
        }
    }
    vec![report]
}
