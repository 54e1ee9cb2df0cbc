//! The front-end for people (stdin is a terminal): a reedline line editor
//! with history and Tab completion of commands and names. Incoming lines are
//! printed above the prompt (reedline's external printer) so they never
//! garble the line being typed; transfer progress bars (indicatif) are drawn
//! into an in-memory terminal whose contents the prompt shows, repainted in
//! place.
//!
//! Leaving must never wait on the terminal: when it goes away (its window
//! closed, an SSH link dropped) the editor's input reader can spin inside
//! `read_line` forever (crossterm retries a read that keeps returning
//! end-of-file), so a watcher notices the hangup, the session quits, and the
//! process exits without joining the editor thread.
//!
//! - `prompt.rs`: the prompt (state and progress bars) and the in-memory
//!   terminal the bars are drawn into.
//! - `complete.rs`: Tab completion of commands and names.
//! - `hangup.rs`: leaving at once on SIGTERM, SIGHUP or a hung-up terminal.

mod complete;
mod hangup;
mod prompt;

use std::{
    io::{self, Write},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc as std_mpsc,
    },
    thread,
    time::Duration,
};

use indicatif::{InMemoryTerm, MultiProgress, ProgressDrawTarget};
use reedline::{
    ColumnarMenu, Emacs, ExternalPrinter, FileBackedHistory, KeyCode, KeyModifiers, MenuBuilder,
    Reedline, ReedlineEvent, ReedlineMenu, Signal, default_emacs_keybindings,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{session::Input, ui::Ui, view::ViewHandle};
use complete::ChatCompleter;
use hangup::{quit_on_signals, watch_for_hangup};
use prompt::{BarTerm, ChatPrompt, Repaint};

/// Lines waiting to be printed above the prompt.
const PRINTER_QUEUE: usize = 1024;
/// Lines of typed history kept for Up/Down and Ctrl-R.
const HISTORY_LINES: usize = 1000;
/// Most progress bars shown at once (the prompt grows by one line each).
const BAR_ROWS: u16 = 6;
/// How long leaving lets the editor print the last lines queued for it.
const PRINT_GRACE: Duration = Duration::from_millis(250);
/// How long leaving then waits for a live editor to give the terminal back (it
/// notices the stop request within its 100 ms poll interval).
const EDITOR_PATIENCE: Duration = Duration::from_secs(2);

/// The running line editor.
pub struct Editor {
    thread: thread::JoinHandle<()>,
    /// Asks the editor to return from `read_line` (reedline's break signal).
    stop: Arc<AtomicBool>,
    /// Says when the editor thread has finished or the terminal hung up,
    /// so leaving waits for whichever comes first, never for a lost cause.
    ended: std_mpsc::Receiver<EditorEnd>,
    /// Set once the terminal is gone; shared with the `Ui`.
    terminal_gone: Arc<AtomicBool>,
}

/// Why [`Editor::stop`] stops waiting.
enum EditorEnd {
    /// The editor thread returned (the terminal is restored).
    Finished,
    /// The terminal hung up: the editor may never return, and there is
    /// nothing left to restore or print to.
    HungUp,
}

impl Editor {
    /// Stops the editor and gives the terminal back (raw mode off), waiting
    /// at most [`EDITOR_PATIENCE`] and not at all for a terminal that is
    /// gone: the caller then exits, which ends a stuck editor thread too.
    pub fn stop(self) {
        if self.terminal_gone.load(Ordering::Relaxed) {
            return;
        }
        // Let the editor print what is still queued (it polls every 100 ms),
        // unless it ends or the terminal hangs up meanwhile.
        let end = match self.ended.recv_timeout(PRINT_GRACE) {
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                self.stop.store(true, Ordering::Relaxed);
                self.ended.recv_timeout(EDITOR_PATIENCE)
            }
            end => end,
        };
        match end {
            Ok(EditorEnd::Finished) | Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                let _ = self.thread.join();
            }
            Ok(EditorEnd::HungUp) => {}
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!("the line editor did not stop; leaving without it");
            }
        }
    }
}

/// Sends [`EditorEnd::Finished`] when the editor thread ends, even by a
/// panic.
struct FinishedOnDrop(std_mpsc::Sender<EditorEnd>);

impl Drop for FinishedOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(EditorEnd::Finished);
    }
}

/// Starts the line editor on its own thread. Typed lines arrive on the
/// returned receiver; the `Ui` prints above the prompt. `quit` is cancelled
/// when the client must leave now: SIGTERM, SIGHUP, the terminal hanging up
/// or the editor failing.
pub fn start(
    color: bool,
    quit: CancellationToken,
) -> io::Result<(Ui, ViewHandle, mpsc::Receiver<Input>, Editor)> {
    let (tx, rx) = mpsc::channel(64);
    quit_on_signals(quit.clone());
    let terminal_gone = Arc::new(AtomicBool::new(false));
    let (ended_tx, ended) = std_mpsc::channel();
    watch_for_hangup(terminal_gone.clone(), quit.clone(), ended_tx.clone())?;
    let printer = ExternalPrinter::new(PRINTER_QUEUE);
    let printer_tx = printer.sender();
    let mut editor = Reedline::create()
        .with_external_printer(printer)
        .with_history(Box::new(
            FileBackedHistory::new(HISTORY_LINES).map_err(io::Error::other)?,
        ))
        .with_ansi_colors(color);
    // reedline does not export the signal's type: keep it in a closure.
    let signal = editor.repaint_signal();
    let repaint: Repaint = Arc::new(move || signal.request_repaint());

    let width = crossterm::terminal::size().map(|(w, _)| w).unwrap_or(80);
    let bars_term = InMemoryTerm::new(BAR_ROWS, width.saturating_sub(1).max(20));
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::term_like_with_hz(
        Box::new(BarTerm {
            term: bars_term.clone(),
            repaint: repaint.clone(),
        }),
        4,
    ));

    let view = ViewHandle::new(repaint);
    let ui = Ui::interactive(printer_tx, bars, color, terminal_gone.clone());

    let mut keybindings = default_emacs_keybindings();
    keybindings.add_binding(
        KeyModifiers::NONE,
        KeyCode::Tab,
        ReedlineEvent::UntilFound(vec![
            ReedlineEvent::Menu("completion_menu".to_string()),
            ReedlineEvent::MenuNext,
        ]),
    );
    let stop = Arc::new(AtomicBool::new(false));
    editor = editor
        .with_completer(Box::new(ChatCompleter { view: view.clone() }))
        .with_menu(ReedlineMenu::EngineCompleter(Box::new(
            ColumnarMenu::default().with_name("completion_menu"),
        )))
        .with_edit_mode(Box::new(Emacs::new(keybindings)))
        // Like a shell: a single match is taken at once, several are
        // completed to their common prefix and listed.
        .with_quick_completions(true)
        .with_partial_completions(true)
        .with_break_signal(stop.clone());

    let prompt = ChatPrompt {
        view: view.clone(),
        bars: bars_term,
    };
    let thread = thread::Builder::new()
        .name("line-editor".into())
        .spawn(move || {
            let _finished = FinishedOnDrop(ended_tx);
            edit_lines(editor, prompt, tx, quit);
        })?;
    Ok((
        ui,
        view,
        rx,
        Editor {
            thread,
            stop,
            ended,
            terminal_gone,
        },
    ))
}

fn edit_lines(
    mut editor: Reedline,
    prompt: ChatPrompt,
    tx: mpsc::Sender<Input>,
    quit: CancellationToken,
) {
    let mut ended = false;
    loop {
        match editor.read_line(&prompt) {
            Ok(Signal::Success(line)) => {
                if !ended && tx.blocking_send(Input::Line(line)).is_err() {
                    return;
                }
            }
            // Ctrl-C clears the line, as in a shell.
            Ok(Signal::CtrlC) => {}
            // Ctrl-D ends the input; keep the editor running so lines about
            // transfers still finishing are printed until the session stops.
            Ok(Signal::CtrlD) => {
                if !ended {
                    ended = true;
                    prompt.view.update(|v| v.leaving = true);
                    let _ = tx.blocking_send(Input::Eof);
                }
            }
            Ok(Signal::ExternalBreak(_)) => return,
            Ok(_) => {}
            // Without an editor nobody can type: leave. (Not eprintln!: it
            // panics when the terminal is gone.)
            Err(e) => {
                let _ = writeln!(io::stderr(), "switchboard: line editor failed: {e}");
                quit.cancel();
                return;
            }
        }
    }
}
