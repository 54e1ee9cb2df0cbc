//! The `core-server` binary: documented options, logs, graceful SIGTERM.

use std::process::Stdio;

use protocol::ErrorCode;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_core-server");

#[tokio::test]
async fn help_documents_every_option() {
    let out = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--history",
        "--max-frame",
        "--max-message",
        "--max-file",
        "--rate-per-sec",
        "--rate-burst",
        "--max-connections",
        "--login-timeout",
        "--ping-interval",
        "--ping-timeout",
        "--outbound-queue",
        "--gateway-queue",
        "--file-window",
        "--max-transfers",
        "--drain-timeout",
        "--gateway-token",
        "SWITCHBOARD_GATEWAY_TOKEN",
        "127.0.0.1:7878",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    let bad = Command::new(BIN)
        .args(["--ping-timeout", "1s", "--ping-interval", "5s"])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ping-timeout"));
}

#[tokio::test]
async fn sigterm_tells_clients_and_exits_cleanly() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The log names the address it listens on.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(WAIT, async {
        loop {
            let line = lines.next_line().await.unwrap().expect("log line");
            if let Some(rest) = line.split("addr=").nth(1) {
                break rest.trim().parse::<std::net::SocketAddr>().unwrap();
            }
        }
    })
    .await
    .expect("server logs its address");
    let mut alice = RawClient::connect(addr).await;
    alice.hello().await;
    alice.join("alice").await.unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(alice.closed().await, Some(ErrorCode::ShuttingDown));
    let exit = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
