//! Results: one [`Report`] per scenario, case and system, stored as JSON lines
//! so that one run's results (Switchboard and its peers) can be put side by
//! side in Markdown tables with ratios.

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    io::{self, Write},
    path::Path,
};

use serde::{Deserialize, Serialize};

/// One measured figure. `None` means "not measured" (e.g. no server pid).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: Option<f64>,
}

/// The figures of one scenario case against one system.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Scenario id, e.g. `broadcast`.
    pub scenario: String,
    /// Which size or variant, e.g. `N=1000`.
    pub case: String,
    /// Which system was measured (see `Target::system`).
    pub system: String,
    pub figures: Vec<Figure>,
    /// Anything a reader must know to trust the figures (losses, stalls).
    pub notes: Vec<String>,
    /// The command line that reproduces it.
    pub command: String,
}

impl Report {
    pub fn new(scenario: &str, case: impl Into<String>, system: &str) -> Self {
        Report {
            scenario: scenario.into(),
            case: case.into(),
            system: system.into(),
            figures: Vec::new(),
            notes: Vec::new(),
            command: reproduce(),
        }
    }

    pub fn figure(&mut self, name: &str, value: impl Into<Option<f64>>) -> &mut Self {
        self.figures.push(Figure {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    pub fn note(&mut self, note: impl Into<String>) -> &mut Self {
        self.notes.push(note.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value)
    }
}

/// This process's command line, with the program named `bench` wherever it
/// was built, and `--json-out FILE` left out (it only says where we stored it).
fn reproduce() -> String {
    let mut words = vec!["bench".to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--json-out" {
            args.next();
        } else if !arg.starts_with("--json-out=") {
            words.push(arg);
        }
    }
    words.join(" ")
}

/// Appends reports to a JSON-lines file.
pub fn append(path: &Path, reports: &[Report]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    for report in reports {
        serde_json::to_writer(&mut file, report)?;
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Reads a JSON-lines file of reports.
pub fn load(path: &Path) -> io::Result<Vec<Report>> {
    std::fs::read_to_string(path)?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).map_err(io::Error::other))
        .collect()
}

/// Pairs compared by a ratio column: (Switchboard side, reference side).
fn ratio_pairs(scenario: &str) -> &'static [(&'static str, &'static str)] {
    if scenario == "gateway" {
        &[("switchboard-ws", "switchboard-tcp")]
    } else {
        &[
            ("switchboard-tcp", "ngircd-irc"),
            ("switchboard-ws", "node-ws"),
        ]
    }
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// Markdown: per scenario, one table with a row per case and figure, a
/// column per system, and a ratio column per compared pair present.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::new();
    for scenario in first_seen(reports.iter().map(|r| r.scenario.as_str())) {
        let of_scenario: Vec<&Report> = reports.iter().filter(|r| r.scenario == scenario).collect();
        let systems = first_seen(of_scenario.iter().map(|r| r.system.as_str()));
        let pairs: Vec<_> = ratio_pairs(scenario)
            .iter()
            .filter(|(a, b)| systems.contains(a) && systems.contains(b))
            .collect();
        out.push_str(&format!("### {scenario}\n\n| case | figure |"));
        for system in &systems {
            out.push_str(&format!(" {system} |"));
        }
        for (a, b) in &pairs {
            out.push_str(&format!(" {a} / {b} |"));
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---:|".repeat(systems.len() + pairs.len()));
        out.push('\n');
        for case in first_seen(of_scenario.iter().map(|r| r.case.as_str())) {
            let by_system: BTreeMap<&str, &Report> = of_scenario
                .iter()
                .filter(|r| r.case == case)
                .map(|r| (r.system.as_str(), *r))
                .collect();
            let figures = first_seen(
                by_system
                    .values()
                    .flat_map(|r| r.figures.iter().map(|f| f.name.as_str())),
            );
            for figure in figures {
                out.push_str(&format!("| {case} | {figure} |"));
                for system in &systems {
                    let value = by_system.get(system).and_then(|r| r.get(figure));
                    out.push_str(&format!(" {} |", number(value)));
                }
                for (a, b) in &pairs {
                    let ratio = match (
                        by_system.get(a).and_then(|r| r.get(figure)),
                        by_system.get(b).and_then(|r| r.get(figure)),
                    ) {
                        (Some(x), Some(y)) if y != 0.0 => format!("{:.2}", x / y),
                        _ => "–".into(),
                    };
                    out.push_str(&format!(" {ratio} |"));
                }
                out.push('\n');
            }
        }
        out.push('\n');
        for report in &of_scenario {
            for note in &report.notes {
                out.push_str(&format!(
                    "- {} {}, {}: {note}\n",
                    report.system, report.case, scenario
                ));
            }
        }
        let commands = first_seen(of_scenario.iter().map(|r| r.command.as_str()));
        out.push_str("\nReproduce:\n\n```sh\n");
        for command in commands {
            out.push_str(command);
            out.push('\n');
        }
        out.push_str("```\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(system: &str, rate: f64) -> Report {
        let mut r = Report::new("broadcast", "N=100", system);
        r.figure("deliveries/s", rate).figure("cpu", None);
        r.command = format!("bench broadcast {system}");
        r
    }

    #[test]
    fn tables_put_systems_side_by_side_with_ratios() {
        let mut reports = vec![
            report("switchboard-tcp", 300.0),
            report("ngircd-irc", 150.0),
        ];
        reports[1].note("2 clients lost messages");
        let md = markdown(&reports);
        assert!(
            md.contains(
                "| case | figure | switchboard-tcp | ngircd-irc | switchboard-tcp / ngircd-irc |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| N=100 | deliveries/s | 300 | 150 | 2.00 |"),
            "{md}"
        );
        assert!(md.contains("| N=100 | cpu | – | – | – |"), "{md}");
        assert!(md.contains("- ngircd-irc N=100, broadcast: 2 clients lost messages"));
        assert!(md.contains("bench broadcast ngircd-irc\n"));
    }

    #[test]
    fn json_lines_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let reports = vec![report("a", 1.0), report("b", 2.5)];
        append(&path, &reports[..1]).unwrap();
        append(&path, &reports[1..]).unwrap();
        assert_eq!(load(&path).unwrap(), reports);
    }
}
