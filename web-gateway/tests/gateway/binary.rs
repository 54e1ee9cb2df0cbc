//! The `web-gateway` binary itself: its options, and a start with an embedded
//! core that stops cleanly on SIGTERM.

use hyper::StatusCode;
use protocol::EventBody;

use crate::support::*;

#[tokio::test]
async fn the_binary_documents_its_options() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_web-gateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--http",
        "--core ",
        "--gateway-token",
        "--core-listen",
        "--allowed-origin",
        "--max-upload",
        "--spool-dir",
        "--spool-max-bytes",
        "--spool-expiry",
        "--session-grace",
        "--browser-queue",
        "--ws-max-message",
        "--ws-rate",
        "--reconnect-min",
        "--core-ping",
    ] {
        assert!(help.contains(option), "--help lacks {option}");
    }
    // --core without a token is a clear error, not a start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_web-gateway"))
        .args(["--core", "127.0.0.1:1"])
        .env_remove("SWITCHBOARD_GATEWAY_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--gateway-token"));
}

#[tokio::test]
async fn the_binary_starts_an_embedded_core_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_web-gateway"))
        .args(["--http", "127.0.0.1:0", "--core-listen", "127.0.0.1:0"])
        .env_remove("SWITCHBOARD_GATEWAY_TOKEN")
        .env_remove("SWITCHBOARD_CORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut http, mut core) = (None, None);
    while http.is_none() || core.is_none() {
        let line = within("the startup lines", lines.next_line())
            .await
            .unwrap()
            .expect("a line");
        if let Some(rest) = line.split("open http://").nth(1) {
            http = Some(rest.trim_end_matches('/').to_string());
        }
        if let Some(rest) = line.split("--server ").nth(1) {
            core = Some(rest.split_whitespace().next().unwrap().to_string());
        }
    }
    let http: std::net::SocketAddr = http.unwrap().parse().unwrap();
    let core: std::net::SocketAddr = core.unwrap().parse().unwrap();
    // A terminal user on the embedded core and a browser on the gateway meet.
    let mut terry = RawClient::connect(core).await;
    terry.hello().await;
    terry.join("terry").await.expect("join");
    let req =
        hyper::Request::post("/join").header("content-type", "application/x-www-form-urlencoded");
    let resp = send(http, req, full(bytes::Bytes::from_static(b"name=webby"))).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
    let joined = terry
        .until_event(|ev| match ev {
            EventBody::Joined { user } => Some(user.clone()),
            _ => None,
        })
        .await;
    assert_eq!(joined.name, "webby");

    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = within("the gateway to exit", child.wait()).await.unwrap();
    assert!(status.success(), "{status:?}");
}
