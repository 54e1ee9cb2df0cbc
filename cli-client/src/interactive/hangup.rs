//! Leaving at once when the terminal goes away (see the module doc of
//! `interactive`): on SIGTERM or SIGHUP, and when stdin hangs up though no
//! signal came.

use std::{
    io::{self, IsTerminal},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc as std_mpsc,
    },
    thread,
    time::Duration,
};

use rustix::event::{PollFd, PollFlags, Timespec};
use tokio_util::sync::CancellationToken;

use super::EditorEnd;

/// How often the hangup watcher looks again even without a wake-up from the
/// kernel (a safety net: on a pseudo-terminal the hangup itself wakes it).
const HANGUP_RECHECK: Duration = Duration::from_secs(1);

/// SIGTERM or SIGHUP (the terminal closed) leave like `/quit`, at once
/// (even while waiting for transfers after Ctrl-D), so the editor gets to
/// restore the terminal instead of leaving it in raw mode. (Ctrl-C is a key
/// in raw mode: it clears the line.)
pub(super) fn quit_on_signals(quit: CancellationToken) {
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
pub(super) fn watch_for_hangup(
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
