//! A lost connection: reported, reconnected under the same name, and a
//! failure for a script whose input ends while offline.

use testkit::TestCore;

use crate::support::{Client, start_core, start_restartable_core};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_reported_and_the_client_comes_back_under_its_name() {
    let server = start_restartable_core().await;
    let addr = server.addr;
    let mut alice = Client::join(&server, "alice").await;
    server.stop().await;
    alice.expect(|v| v["kind"] == "disconnected").await;
    alice.expect(|v| v["kind"] == "reconnecting").await;
    // Same port: the client keeps dialling the address it was given.
    let server = TestCore::start_on(addr, core_server::Config::default()).await;
    let welcome = alice.expect(|v| v["kind"] == "welcome").await;
    assert_eq!(
        (&welcome["name"], &welcome["reconnect"]),
        (&"alice".into(), &true.into())
    );
    let mut bob = Client::join(&server, "bob").await;
    alice.send("still here").await;
    bob.expect_message("alice", "still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_ending_while_disconnected_is_a_failure_for_scripts() {
    let server = start_core().await;
    let mut alice = Client::join(&server, "alice").await;
    server.stop().await;
    alice.expect(|v| v["kind"] == "disconnected").await;
    alice.send("this cannot be delivered").await;
    alice
        .expect(|v| v["kind"] == "error" && v["code"] == "not_connected")
        .await;
    let (status, _, stderr) = alice.finish().await;
    assert!(!status.success());
    assert!(stderr.contains("disconnected"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
