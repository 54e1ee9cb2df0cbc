//! Starting up from the command line: names (taken, invalid, or read from
//! the first input line) and a server that is not there.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{Client, LINE_WAIT, start_core, switchboard};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_is_a_clear_error_and_another_name_works() {
    let server = start_core().await;
    let _alice = Client::join(&server, "alice").await;

    for taken in ["alice", "ALICE"] {
        let twin = Client::spawn(server.addr, taken, &[]).await;
        let (status, rest, stderr) = twin.finish().await;
        assert!(!status.success());
        assert!(stderr.contains("taken"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(rest.iter().any(|v| v["kind"] == "error"), "{rest:#?}");
    }
    let bad = Client::spawn(server.addr, "no spaces", &[]).await;
    let (status, _, stderr) = bad.finish().await;
    assert!(!status.success());
    assert!(stderr.contains("invalid name"), "{stderr}");

    let mut alice2 = Client::join(&server, "alice2").await;
    alice2.send("hi").await;
    alice2.expect_message("alice2", "hi").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_name_the_first_line_is_the_name() {
    let server = start_core().await;
    let mut observer = Client::join(&server, "observer").await;
    let mut cmd = switchboard();
    cmd.arg("--server")
        .arg(server.addr.to_string())
        .arg("--json");
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"dave\n/users\nhello from dave\n")
        .await
        .unwrap();
    drop(stdin);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(LINE_WAIT, lines.next_line()).await {
        seen.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert!(child.wait().await.unwrap().success());
    assert_eq!(seen[0]["kind"], "info", "{seen:#?}");
    assert!(
        seen.iter()
            .any(|v| v["kind"] == "welcome" && v["name"] == "dave"),
        "{seen:#?}"
    );
    observer.expect_message("dave", "hello from dave").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_one_clear_line_and_a_failure() {
    // A port that was just free: nothing listens there. (Outside the
    // ephemeral range, so the client cannot happen to connect to itself.)
    let addr = testkit::bind_outside_ephemeral_range()
        .await
        .local_addr()
        .unwrap();
    for json in [false, true] {
        let mut cmd = switchboard();
        cmd.arg("--server")
            .arg(addr.to_string())
            .arg("--name")
            .arg("alice");
        if json {
            cmd.arg("--json");
        }
        let output = tokio::time::timeout(LINE_WAIT, cmd.output())
            .await
            .expect("exits promptly")
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot connect to"), "{stderr}");
        assert!(stderr.contains(&addr.to_string()), "{stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        if json {
            let line: Value = serde_json::from_str(stdout.trim()).unwrap();
            assert_eq!(line["kind"], "error");
        }
    }
}
