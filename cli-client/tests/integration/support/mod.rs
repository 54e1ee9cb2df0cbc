//! What the cli's tests need beyond the shared test kit: real `switchboard`
//! processes in scripted `--json` mode whose output lines are awaited with
//! timeouts (never sleeps), and checks of what they saved. The core and the
//! raw protocol client come from `testkit`; `pty.rs` has the interactive
//! front-end under a pseudo-terminal.

mod pty;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use serde_json::Value;
use tempfile::TempDir;
use testkit::{TestCore, WAIT, sha256};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
    time::timeout,
};

pub use pty::PtyClient;

/// How long one expected line (or the exit) of a `switchboard` process may
/// take: twice the kit's [`WAIT`], as these tests always had. A child process
/// has to start, connect and get scheduled among the test's others, and on a
/// loaded machine that is slower than anything inside the test's process.
pub const LINE_WAIT: Duration = WAIT.saturating_mul(2);

/// A core with the server's real defaults, not the kit's loose test rate
/// limit: the cli paces itself to the limit its server announces, and the
/// tests check that it does (and that it checks the default message limit).
pub async fn start_core() -> TestCore {
    TestCore::with(core_server::Config::default()).await
}

/// The same, on a port it can be restarted on ([`TestCore::start_on`]).
pub async fn start_restartable_core() -> TestCore {
    TestCore::start_restartable(core_server::Config::default()).await
}

/// A `switchboard --json` process.
pub struct Client {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every JSON line read so far, in order.
    pub seen: Vec<Value>,
    /// The same lines exactly as printed (what a consumer's terminal gets).
    pub seen_raw: Vec<String>,
    /// Where this client saves received files (inside `_root`).
    pub downloads: PathBuf,
    _root: TempDir,
}

/// The `switchboard` binary with piped stdio, killed when dropped.
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
    pub async fn join(core: &TestCore, name: &str) -> Client {
        let mut client = Client::spawn(core.addr, name, &[]).await;
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
            seen_raw: Vec::new(),
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
    /// does within [`LINE_WAIT`] or the output ends.
    pub async fn expect(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + LINE_WAIT;
        loop {
            let line = match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Err(_) => panic!(
                    "{}: no matching line within {LINE_WAIT:?}; seen: {:#?}",
                    self.name, self.seen
                ),
                Ok(Ok(Some(line))) => line,
                Ok(_) => panic!("{}: output ended; seen: {:#?}", self.name, self.seen),
            };
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line:?}", self.name));
            self.seen.push(value.clone());
            self.seen_raw.push(line);
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
        timeout(LINE_WAIT, read_rest).await.expect("stdout closes");
        let status = timeout(LINE_WAIT, self.child.wait())
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

/// The next line of a plain (not `--json`) client's stdout.
pub async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    timeout(LINE_WAIT, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("output still open")
}

/// Writes `data` to a new file named `name` in `dir`, returning its path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// The names of the files in `dir`, sorted (none if it does not exist).
pub fn files_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Checks a `file_received` line: saved inside the client's download dir,
/// with exactly `data`.
pub fn assert_saved(client: &Client, line: &Value, data: &[u8]) -> PathBuf {
    let path = PathBuf::from(line["path"].as_str().expect("a path"));
    assert!(path.is_absolute(), "{path:?}");
    let dir = std::fs::canonicalize(&client.downloads).unwrap();
    assert_eq!(
        std::fs::canonicalize(path.parent().unwrap()).unwrap(),
        dir,
        "saved inside the download dir"
    );
    assert_eq!(std::fs::read(&path).unwrap(), data, "identical bytes");
    assert_eq!(line["size"], data.len());
    assert_eq!(line["sha256"], sha256(data));
    path
}
