//! Where outputs go: lines on stdout (scripted mode, plain or JSON, errors
//! also on stderr), or lines printed above the prompt of the line editor
//! (interactive mode), plus the progress bars shown with the prompt.

use std::{
    io::Write,
    sync::{Arc, mpsc},
};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::render::{Output, TextStyle, to_json};

/// A cheap handle to the output; every part of the client holds a clone.
#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Sink,
    style: TextStyle,
}

enum Sink {
    /// One line per output on stdout; errors also on stderr.
    Scripted { json: bool },
    /// Lines go to the line editor, which prints them above the prompt so the
    /// line being typed is never garbled. `bars` draws into the prompt area.
    Interactive {
        printer: mpsc::SyncSender<String>,
        bars: MultiProgress,
    },
}

impl Ui {
    pub fn scripted(json: bool, color: bool) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                sink: Sink::Scripted { json },
                style: TextStyle { color },
            }),
        }
    }

    pub fn interactive(printer: mpsc::SyncSender<String>, bars: MultiProgress, color: bool) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                sink: Sink::Interactive { printer, bars },
                style: TextStyle { color },
            }),
        }
    }

    pub fn is_interactive(&self) -> bool {
        matches!(self.inner.sink, Sink::Interactive { .. })
    }

    /// Shows one output. Never fails: a closed stdout (a script that stopped
    /// reading) must not crash the client or lose the room for others.
    pub fn emit(&self, out: Output) {
        match &self.inner.sink {
            Sink::Scripted { json } => {
                if *json {
                    let line = to_json(&out).to_string();
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "{line}");
                    let _ = stdout.flush();
                    if out.is_error() {
                        let _ = writeln!(std::io::stderr(), "{}", self.inner.style.render(&out));
                    }
                } else if out.is_error() {
                    let _ = writeln!(std::io::stderr(), "{}", self.inner.style.render(&out));
                } else {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "{}", self.inner.style.render(&out));
                    let _ = stdout.flush();
                }
            }
            Sink::Interactive { printer, .. } => {
                let line = self.inner.style.render(&out);
                // The editor drains this queue every few milliseconds; block
                // only when it is full, which bounds memory.
                if let Err(mpsc::TrySendError::Full(line)) = printer.try_send(line) {
                    let _ = printer.send(line);
                }
            }
        }
    }

    /// In `--json` mode, writes the JSON line only (the caller reports the
    /// error on stderr itself).
    pub fn emit_stdout_only(&self, out: Output) {
        if let Sink::Scripted { json: true } = &self.inner.sink {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", to_json(&out));
            let _ = stdout.flush();
        }
    }

    /// A progress bar for a transfer of `total` bytes, shown above the prompt
    /// in interactive mode and hidden otherwise (scripts get one line at the
    /// end instead).
    pub fn bar(&self, total: u64, label: &str) -> ProgressBar {
        match &self.inner.sink {
            Sink::Scripted { .. } => ProgressBar::hidden(),
            Sink::Interactive { bars, .. } => {
                let bar = bars.add(ProgressBar::new(total));
                let style = ProgressStyle::with_template(
                    "[{msg:.20} {bar:12} {percent:>3}% {total_bytes} {bytes_per_sec} {eta} left]",
                )
                .expect("the template is valid")
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_message(crate::render::strip_controls(label));
                bar
            }
        }
    }
}
