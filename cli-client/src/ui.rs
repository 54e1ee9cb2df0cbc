//! Where outputs go: lines on stdout (scripted mode, plain or JSON, errors
//! also on stderr), or lines printed above the prompt of the line editor
//! (interactive mode), plus the progress bars shown with the prompt.

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::render::{Output, TextStyle, json_line};

/// How long to wait before offering a line again to a full printer queue.
const PRINTER_RETRY: Duration = Duration::from_millis(10);

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
        /// The terminal hung up: lines are dropped, never waited on (its
        /// editor may never drain the queue again, and nobody would see them).
        terminal_gone: Arc<AtomicBool>,
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

    pub fn interactive(
        printer: mpsc::SyncSender<String>,
        bars: MultiProgress,
        color: bool,
        terminal_gone: Arc<AtomicBool>,
    ) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                sink: Sink::Interactive {
                    printer,
                    bars,
                    terminal_gone,
                },
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
                    let line = json_line(&out);
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
            Sink::Interactive {
                printer,
                terminal_gone,
                ..
            } => {
                let mut line = self.inner.style.render(&out);
                // The editor drains this queue every few milliseconds; wait
                // only when it is full, which bounds memory, and only while
                // the terminal is there (not a blocking send, which a
                // hangup could not interrupt).
                while !terminal_gone.load(Ordering::Relaxed) {
                    match printer.try_send(line) {
                        Err(mpsc::TrySendError::Full(back)) => {
                            line = back;
                            std::thread::sleep(PRINTER_RETRY);
                        }
                        Ok(()) | Err(mpsc::TrySendError::Disconnected(_)) => return,
                    }
                }
            }
        }
    }

    /// In `--json` mode, writes the JSON line only (the caller reports the
    /// error on stderr itself).
    pub fn emit_stdout_only(&self, out: Output) {
        if let Sink::Scripted { json: true } = &self.inner.sink {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{}", json_line(&out));
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
                bar.set_message(crate::render::show_controls(label));
                bar
            }
        }
    }
}
