//! Helpers that make each test a few readable lines: a real core server on an
//! ephemeral port, and real `switchboard` processes in scripted `--json` mode
//! whose output lines are awaited with timeouts (never sleeps).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use protocol::{
    ClientMsg, PROTOCOL_VERSION, ServerMsg,
    codec::{ClientCodec, Frame},
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines},
    net::{TcpListener, TcpStream},
    process::{Child, ChildStdin, ChildStdout, Command},
    time::timeout,
};
use tokio_util::{codec::Framed, sync::CancellationToken};

/// How long any one expected line may take. Generous: CI machines are slow,
/// and a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(20);

/// A core server running in this process on 127.0.0.1:0.
pub struct Server {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_on("127.0.0.1:0").await
    }

    /// A server on a port outside the kernel's ephemeral range (so that,
    /// once stopped, no outgoing connection can take its port, nor a client
    /// dialling it connect to itself), to restart on the same address.
    pub async fn start_restartable() -> Server {
        Self::serve(bind_outside_ephemeral_range().await)
    }

    /// A server on `addr` again, after [`Server::stop`]. Binding is retried:
    /// on a busy machine the port has been seen to stay unavailable for a
    /// moment after the old server closed everything (this waits on the
    /// kernel, not on the code under test).
    pub async fn start_on(addr: &str) -> Server {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return Self::serve(listener),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("binding {addr} again failed ({e}); retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        }
    }

    fn serve(listener: TcpListener) -> Server {
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let config = core_server::Config::default();
        let serve = core_server::serve(listener, config, shutdown.clone());
        let task = tokio::spawn(async move {
            let _ = serve.await;
        });
        Server {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    /// Stops the server (its clients are told and disconnected) and waits
    /// until it has let go of its port.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            timeout(WAIT, task)
                .await
                .expect("the server stops")
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A listener on 127.0.0.1 with a port below the kernel's ephemeral range.
pub async fn bind_outside_ephemeral_range() -> TcpListener {
    let seed = std::process::id() as u64
        ^ u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
    for i in 0..200u64 {
        let port = 20_000 + (seed.wrapping_add(i * 7919) % 10_000) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return listener;
        }
    }
    panic!("no free port in 20000..30000");
}

/// A `switchboard --json` process.
pub struct Client {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every JSON line read so far, in order.
    pub seen: Vec<Value>,
    /// Where this client saves received files (inside `_root`).
    pub downloads: PathBuf,
    _root: TempDir,
}

pub fn switchboard() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.env_remove("NO_COLOR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

impl Client {
    /// Starts a client named `name` and waits until it has joined.
    pub async fn join(server: &Server, name: &str) -> Client {
        let mut client = Client::spawn(server.addr, name, &[]).await;
        let welcome = client.expect(|v| v["kind"] == "welcome").await;
        assert_eq!(welcome["name"], name);
        client
    }

    /// Starts a client without waiting for anything.
    pub async fn spawn(addr: SocketAddr, name: &str, extra: &[&str]) -> Client {
        let root = tempfile::tempdir().unwrap();
        let downloads = root.path().join("downloads");
        let mut cmd = switchboard();
        cmd.arg("--server")
            .arg(addr.to_string())
            .arg("--name")
            .arg(name)
            .arg("--json")
            .arg("--download-dir")
            .arg(&downloads)
            .args(extra);
        let mut child = cmd.spawn().expect("start switchboard");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Client {
            name: name.to_string(),
            child,
            stdin,
            stdout,
            seen: Vec::new(),
            downloads,
            _root: root,
        }
    }

    /// The directory the download dir lives in (nothing else should appear).
    pub fn root(&self) -> &Path {
        self._root.path()
    }

    /// Types one line.
    pub async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Reads lines until one matches; panics (showing what was seen) if none
    /// does within [`WAIT`] or the output ends.
    pub async fn expect(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => panic!(
                    "{}: no matching line within {WAIT:?}; seen: {:#?}",
                    self.name, self.seen
                ),
                Ok(Ok(Some(line))) => line,
                Ok(_) => panic!("{}: output ended; seen: {:#?}", self.name, self.seen),
            };
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line:?}", self.name));
            self.seen.push(value.clone());
            if matches(&value) {
                return value;
            }
        }
    }

    /// Waits for a room message with this text.
    pub async fn expect_message(&mut self, from: &str, text: &str) -> Value {
        self.expect(|v| v["kind"] == "message" && v["from"] == from && v["text"] == text)
            .await
    }

    /// Whether any line seen so far matches.
    pub fn has_seen(&self, matches: impl Fn(&Value) -> bool) -> bool {
        self.seen.iter().any(matches)
    }

    /// Closes stdin (end of input) and waits for the process to exit; returns
    /// its status and the rest of its stdout (parsed) and stderr.
    pub async fn finish(mut self) -> (ExitStatus, Vec<Value>, String) {
        drop(self.stdin.take());
        let mut rest = Vec::new();
        let read_rest = async {
            while let Ok(Some(line)) = self.stdout.next_line().await {
                rest.push(serde_json::from_str::<Value>(&line).unwrap());
            }
        };
        timeout(WAIT, read_rest).await.expect("stdout closes");
        let status = timeout(WAIT, self.child.wait())
            .await
            .expect("the client exits at end of input")
            .unwrap();
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr).await;
        }
        (status, rest, stderr)
    }
}

/// Writes `data` to a new file named `name` in `dir`, returning its path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// Deterministic, incompressible-looking bytes spanning several chunks.
pub fn sample_bytes(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A real 1x1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A hand-driven native-protocol client (through core-server's codec), for
/// what the terminal client would never send, like a hostile file name.
pub struct RawClient {
    conn: Framed<TcpStream, ClientCodec>,
}

impl RawClient {
    pub async fn join(addr: SocketAddr, name: &str) -> RawClient {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut conn = Framed::new(stream, ClientCodec::client());
        conn.send(Frame::new(ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            client: "test".into(),
            gateway_token: None,
        }))
        .await
        .unwrap();
        let mut raw = RawClient { conn };
        raw.expect(|m| matches!(m, ServerMsg::Hello { .. })).await;
        raw.send(ClientMsg::Join {
            name: name.into(),
            since: None,
        })
        .await;
        raw.expect(|m| matches!(m, ServerMsg::Welcome { .. })).await;
        raw
    }

    pub async fn send(&mut self, msg: ClientMsg) {
        self.conn.send(Frame::new(msg)).await.unwrap();
    }

    pub async fn send_chunk(&mut self, id: u32, bytes: &[u8]) {
        let frame = Frame::new(ClientMsg::FileChunk { id }).with_payload(bytes.to_vec().into());
        self.conn.send(frame).await.unwrap();
    }

    pub async fn expect(&mut self, matches: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
        loop {
            let frame = timeout(WAIT, self.conn.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("a valid frame");
            if matches(&frame.msg) {
                return frame.msg;
            }
        }
    }
}

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
    pub async fn join(server: &Server, name: &str) -> PtyClient {
        PtyClient::join_via(server, name, |client| client).await
    }

    /// Like [`PtyClient::join`], with the shell command line `script` runs
    /// made by `wrap` from the one that starts the client (e.g. to run it
    /// under a shell that ignores SIGHUP).
    pub async fn join_via(
        server: &Server,
        name: &str,
        wrap: impl FnOnce(String) -> String,
    ) -> PtyClient {
        let root = tempfile::tempdir().unwrap();
        let command = wrap(format!(
            "{} --server {} --name {name} --no-color --download-dir {}",
            env!("CARGO_BIN_EXE_switchboard"),
            server.addr,
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
        let deadline = tokio::time::Instant::now() + WAIT;
        let more = self.more.clone();
        loop {
            let notified = more.notified();
            if self.text().contains(needle) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "{needle:?} not drawn within {WAIT:?}; screen:\n{}",
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
        timeout(WAIT, self.child.wait())
            .await
            .expect("script dies at once")
            .unwrap();
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
        match timeout(WAIT, self.child.wait()).await {
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
