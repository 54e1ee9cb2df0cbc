//! `switchboard` in interactive mode under a pseudo-terminal (util-linux
//! `script`), played by the test: keys typed, the screen read, the terminal
//! hung up; plus [`Watched`], to follow the client process itself.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tempfile::TempDir;
use testkit::{TestCore, within};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    process::{Child, ChildStdin, Command},
    time::timeout,
};

use super::LINE_WAIT;

/// `switchboard` in interactive mode: run under util-linux `script`, which
/// gives it a pseudo-terminal, so it takes the line-editor path a person
/// gets. The test plays the terminal: a reader task answers the editor's
/// cursor position queries at once, and the test types keys.
pub struct PtyClient {
    child: Child,
    stdin: std::sync::Arc<tokio::sync::Mutex<ChildStdin>>,
    /// Everything the client drew, as received (escape sequences included).
    screen: std::sync::Arc<std::sync::Mutex<String>>,
    /// Tells the test that more output arrived.
    more: std::sync::Arc<tokio::sync::Notify>,
    _root: TempDir,
}

/// What a terminal answers to `ESC [ 6 n` (the cursor position query).
const CURSOR_REPORT: &[u8] = b"\x1b[24;1R";

impl PtyClient {
    pub async fn join(core: &TestCore, name: &str) -> PtyClient {
        PtyClient::join_via(core, name, |client| client).await
    }

    /// Like [`PtyClient::join`], with the shell command line `script` runs
    /// made by `wrap` from the one that starts the client (e.g. to run it
    /// under a shell that ignores SIGHUP).
    pub async fn join_via(
        core: &TestCore,
        name: &str,
        wrap: impl FnOnce(String) -> String,
    ) -> PtyClient {
        let root = tempfile::tempdir().unwrap();
        let command = wrap(format!(
            "{} --server {} --name {name} --no-color --download-dir {}",
            env!("CARGO_BIN_EXE_switchboard"),
            core.addr,
            root.path().join("downloads").display()
        ));
        let mut child = Command::new("script")
            .args(["-qefc", &command, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("util-linux `script` runs");
        let stdin = std::sync::Arc::new(tokio::sync::Mutex::new(child.stdin.take().unwrap()));
        let mut stdout = child.stdout.take().unwrap();
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let more = std::sync::Arc::new(tokio::sync::Notify::new());
        let (screen2, more2, stdin2) = (screen.clone(), more.clone(), stdin.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut answered = 0;
            while let Ok(n) = stdout.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let queries = {
                    let mut screen = screen2.lock().unwrap();
                    screen.push_str(&String::from_utf8_lossy(&buf[..n]));
                    screen.matches("\u{1b}[6n").count()
                };
                while answered < queries {
                    let mut stdin = stdin2.lock().await;
                    let _ = stdin.write_all(CURSOR_REPORT).await;
                    let _ = stdin.flush().await;
                    answered += 1;
                }
                more2.notify_waiters();
            }
            more2.notify_waiters();
        });
        let mut pty = PtyClient {
            child,
            stdin,
            screen,
            more,
            _root: root,
        };
        pty.expect("joined the room").await;
        pty
    }

    /// Where this client saves received files.
    pub fn downloads(&self) -> PathBuf {
        self._root.path().join("downloads")
    }

    /// Everything drawn so far, escape sequences included.
    pub fn raw(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// What is on screen so far, without escape sequences.
    pub fn text(&self) -> String {
        strip_escapes(&self.screen.lock().unwrap())
    }

    /// Waits until `needle` has been drawn.
    pub async fn expect(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + LINE_WAIT;
        let more = self.more.clone();
        loop {
            let notified = more.notified();
            if self.text().contains(needle) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "{needle:?} not drawn within {LINE_WAIT:?}; screen:\n{}",
                    self.text()
                );
            }
        }
    }

    pub async fn type_keys(&mut self, keys: &str) {
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(keys.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Closes the terminal the way a closed window or a dropped SSH link
    /// does: `script`, which owns the pseudo-terminal's master side, is
    /// killed outright, so the client's terminal hangs up under it. Returns
    /// the client process (a grandchild, found before its parent goes).
    pub async fn hang_up(mut self) -> Watched {
        let client = self.process();
        self.child.start_kill().unwrap();
        within("script to die", self.child.wait()).await.unwrap();
        client
    }

    /// The client process itself (`script`'s descendant).
    pub fn process(&self) -> Watched {
        let script = self.child.id().expect("script is running") as i32;
        Watched::descendant(script, "switchboard")
    }

    /// The client's exit status (`script -e` passes it on), if it exits
    /// within `limit`.
    pub async fn exit_within(mut self, limit: Duration) -> Option<ExitStatus> {
        let status = timeout(limit, self.child.wait()).await.ok()?;
        Some(status.unwrap())
    }

    /// Presses Ctrl-D and waits for the exit status.
    pub async fn leave(mut self) -> ExitStatus {
        self.type_keys("\u{4}").await;
        match timeout(LINE_WAIT, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("the client did not exit; screen:\n{}", self.text()),
        }
    }
}

/// A process that is not our child (so `wait` is not possible), watched
/// through a pidfd: its exit is an event to await, and it is killed when the
/// test ends, so a failing test leaves no stray client behind.
pub struct Watched {
    pidfd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl Watched {
    /// The descendant of `ancestor` whose command name is `comm` (panics if
    /// there is none, or several).
    pub fn descendant(ancestor: i32, comm: &str) -> Watched {
        let found: Vec<i32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim_end() == comm)
            })
            .filter(|&pid| {
                let mut pid = pid;
                while let Some(parent) = parent_of(pid) {
                    if parent == ancestor {
                        return true;
                    }
                    pid = parent;
                }
                false
            })
            .collect();
        let [pid] = found[..] else {
            panic!("expected one {comm} under {ancestor}, found {found:?}");
        };
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .expect("pidfd_open (Linux 5.3+)");
        // SAFETY: the AsyncFd owns the pidfd, so it stays open and the same
        // for as long as it is registered.
        let pidfd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE)
        };
        Watched {
            pidfd: pidfd.unwrap(),
        }
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        rustix::process::pidfd_send_signal(self.pidfd.get_ref(), signal).unwrap();
    }

    /// Whether the process exits within `limit` (a pidfd becomes readable
    /// when its process ends).
    pub async fn exits_within(&self, limit: Duration) -> bool {
        timeout(limit, self.pidfd.readable()).await.is_ok()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // Fails harmlessly once the process is gone; the pidfd cannot name
        // another process that reused the pid.
        let _ =
            rustix::process::pidfd_send_signal(self.pidfd.get_ref(), rustix::process::Signal::KILL);
    }
}

/// The parent of `pid` (from /proc/<pid>/stat), if it is above init.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let ppid: i32 = after_comm.split_whitespace().nth(1)?.parse().ok()?;
    (ppid > 1).then_some(ppid)
}

/// Drops ANSI escape sequences (CSI and the two-byte ones the editor uses).
fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}
