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

use std::{
    borrow::Cow,
    io::{self, IsTerminal, Write},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc as std_mpsc,
    },
    thread,
    time::Duration,
};

use indicatif::{InMemoryTerm, MultiProgress, ProgressDrawTarget, TermLike};
use reedline::{
    ColumnarMenu, Completer, Emacs, ExternalPrinter, FileBackedHistory, KeyCode, KeyModifiers,
    MenuBuilder, Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus, Reedline,
    ReedlineEvent, ReedlineMenu, Signal, Span, Suggestion, default_emacs_keybindings,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{command::COMMANDS, session::Input, ui::Ui, view::ViewHandle};

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
/// How often the hangup watcher looks again even without a wake-up from the
/// kernel (a safety net: on a pseudo-terminal the hangup itself wakes it).
const HANGUP_RECHECK: Duration = Duration::from_secs(1);

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

/// SIGTERM or SIGHUP (the terminal closed) leave like `/quit`, at once
/// (even while waiting for transfers after Ctrl-D), so the editor gets to
/// restore the terminal instead of leaving it in raw mode. (Ctrl-C is a key
/// in raw mode: it clears the line.)
fn quit_on_signals(quit: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    for kind in [SignalKind::terminate(), SignalKind::hangup()] {
        let Ok(mut signals) = signal(kind) else {
            continue;
        };
        let quit = quit.clone();
        tokio::spawn(async move {
            if signals.recv().await.is_some() {
                tracing::info!(signal = ?kind, "leaving on a signal");
                quit.cancel();
            }
        });
    }
}

/// Watches stdin (the terminal the editor reads) for a hangup, and then
/// marks the terminal gone and quits. SIGHUP alone is not enough: it goes
/// only to the terminal's session leader, which need not be us (a wrapper
/// shell that ignores it, a client started from a script), and the editor
/// cannot notice by itself (see the module doc).
fn watch_for_hangup(
    terminal_gone: Arc<AtomicBool>,
    quit: CancellationToken,
    ended: std_mpsc::Sender<EditorEnd>,
) -> io::Result<()> {
    let recheck = Timespec::try_from(HANGUP_RECHECK).expect("a small duration");
    thread::Builder::new()
        .name("hangup-watch".into())
        .spawn(move || {
            let stdin = io::stdin();
            loop {
                // Asking for no events still reports POLLHUP and POLLERR,
                // which a hung-up terminal raises, while keystrokes (the
                // editor's to read) do not wake us.
                let mut fds = [PollFd::new(&stdin, PollFlags::empty())];
                let hung_up = match rustix::event::poll(&mut fds, Some(&recheck)) {
                    Ok(_) => !fds[0].revents().is_empty() || !stdin.is_terminal(),
                    Err(rustix::io::Errno::INTR) => false,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch the terminal");
                        return;
                    }
                };
                if hung_up {
                    tracing::info!("the terminal hung up; leaving");
                    terminal_gone.store(true, Ordering::Relaxed);
                    quit.cancel();
                    let _ = ended.send(EditorEnd::HungUp);
                    return;
                }
            }
        })?;
    Ok(())
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

/// The prompt: any progress bars, then `name> ` (or what is going on).
struct ChatPrompt {
    view: ViewHandle,
    bars: InMemoryTerm,
}

impl Prompt for ChatPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        let view = self.view.get();
        let state = match (&view.name, view.connected) {
            _ if view.leaving => "leaving (waiting for transfers)".to_string(),
            (None, _) => "your name".to_string(),
            (Some(name), true) => name.clone(),
            (Some(name), false) => format!("{name} (reconnecting)"),
        };
        // One line only: reedline clears a single prompt line when it prints
        // above it, so a taller prompt would leave stale bars behind.
        let bars: Vec<String> = self
            .bars
            .contents()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if bars.is_empty() {
            return Cow::Owned(state);
        }
        let width = usize::from(self.bars.width());
        let room = width.saturating_sub(state.chars().count() + 24).max(10);
        let mut line: String = bars.join(" | ").chars().take(room).collect();
        line.push(' ');
        line.push_str(&state);
        Cow::Owned(line)
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        Cow::Borrowed("> ")
    }

    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("… ")
    }

    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        let prefix = match search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!("({prefix}search: {}) ", search.term))
    }
}

/// Asks the line editor to repaint the prompt in place.
type Repaint = Arc<dyn Fn() + Send + Sync>;

/// Draws progress bars into memory and asks the editor to repaint the prompt
/// (which shows them) whenever a frame is complete.
struct BarTerm {
    term: InMemoryTerm,
    repaint: Repaint,
}

impl std::fmt::Debug for BarTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarTerm").field("term", &self.term).finish()
    }
}

impl TermLike for BarTerm {
    fn width(&self) -> u16 {
        self.term.width()
    }
    fn height(&self) -> u16 {
        self.term.height()
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.term.write_line(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.term.write_str(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.term.clear_line()
    }
    fn flush(&self) -> io::Result<()> {
        self.term.flush()?;
        (self.repaint)();
        Ok(())
    }
}

/// Tab completion: command names at the start of a line, user names after a
/// command that takes one (plus `all` for files), and user names in text.
struct ChatCompleter {
    view: ViewHandle,
}

impl Completer for ChatCompleter {
    fn complete(&mut self, line: &str, pos: usize) -> reedline::CompletionResult {
        let users = self.view.get().users;
        let suggestions = completions(line, pos, &users);
        reedline::CompletionResult::fresh(suggestions)
    }
}

/// The completion logic, pure so it can be tested.
fn completions(line: &str, pos: usize, users: &[String]) -> Vec<Suggestion> {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    let word_start = before
        .rfind(char::is_whitespace)
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    let word = &before[word_start..];
    let span = Span::new(word_start, pos);
    let suggest = |value: &str| Suggestion {
        value: value.to_string(),
        span,
        append_whitespace: true,
        ..Suggestion::default()
    };
    let words_before: Vec<&str> = before[..word_start].split_whitespace().collect();
    if words_before.is_empty() && word.starts_with('/') {
        return COMMANDS
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| name.starts_with(&word.to_ascii_lowercase()))
            .map(suggest)
            .collect();
    }
    let first = words_before.first().map(|w| w.to_ascii_lowercase());
    let mut candidates: Vec<&str> = match first.as_deref() {
        Some("/private" | "/msg" | "/w") if words_before.len() == 1 => {
            users.iter().map(String::as_str).collect()
        }
        Some("/sendfile" | "/sendimage") if words_before.len() == 1 => std::iter::once("all")
            .chain(users.iter().map(String::as_str))
            .collect(),
        Some(cmd) if cmd.starts_with('/') => Vec::new(),
        _ if !word.is_empty() => users.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let lower = word.to_ascii_lowercase();
    candidates.retain(|c| c.to_ascii_lowercase().starts_with(&lower));
    candidates.into_iter().map(suggest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion() {
        let users = vec!["bob".to_string(), "Bea".to_string(), "carol".to_string()];
        let check = |line: &str, expected: &[&str]| {
            let got: Vec<String> = completions(line, line.len(), &users)
                .into_iter()
                .map(|s| s.value)
                .collect();
            assert_eq!(got, expected, "completing {line:?}");
        };
        check("/pr", &["/private"]);
        check("/s", &["/sendfile", "/sendimage"]);
        check(
            "/",
            &COMMANDS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>(),
        );
        check("/msg b", &["bob", "Bea"]);
        check("/w ", &["bob", "Bea", "carol"]);
        check("/sendfile a", &["all"]);
        check("/sendimage c", &["carol"]);
        check("/private bob hello c", &[]);
        check("/sendfile bob some/pa", &[]);
        check("hello ca", &["carol"]);
        check("hello ", &[]);
        let s = &completions("hi b", 4, &users)[0];
        assert_eq!((s.span.start, s.span.end), (3, 4));
    }
}
