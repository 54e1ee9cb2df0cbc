//! Uploads from browsers (the form, with and without JavaScript): they reach
//! terminal users byte for byte, within the size limit, only with a session
//! and its CSRF token.

use hyper::StatusCode;
use protocol::{EventBody, FileKind};

use crate::support::*;

#[tokio::test]
async fn a_form_upload_reaches_the_terminal_user_with_identical_bytes() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let data = test_bytes(300 * 1024 + 17, 1);

    // Without JavaScript: a redirect back to the chat, with a notice there.
    let resp = alice.upload("terry", "data.bin", &data, false).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
    assert_eq!(resp.header("location"), Some("/chat"));
    let (from, name, bytes) = terry.until_file().await;
    assert_eq!((from.as_str(), name.as_str()), ("alice", "data.bin"));
    assert!(bytes == data, "bytes differ");
    let page = alice.get("/chat").await.text();
    assert!(
        page.contains("Sent data.bin (300.0 KiB) to terry."),
        "{page}"
    );

    // To the room: the terminal user and the other web user get it, the
    // sender does not get its own file back.
    let bob = gw.join("bob").await;
    let mut b = bob.ws().await;
    let mut a = alice.ws().await;
    let room = test_bytes(70 * 1024, 9);
    let resp = alice.upload("room", "room.bin", &room, true).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let (from, _, bytes) = terry.until_file().await;
    assert_eq!(from, "alice");
    assert!(bytes == room);
    let file = b.expect("file").await;
    assert_eq!(file["from"], "alice");
    assert!(bob.get(file["url"].as_str().unwrap()).await.body == room);
    a.say("done").await;
    let seen = a.until(|m| m["text"] == "done").await;
    assert!(seen.iter().all(|m| m["type"] != "file"), "{seen:?}");

    // With JavaScript: JSON. An image goes as an image.
    let resp = alice.upload("terry", "pic.png", PNG, true).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.json()["ok"], true);
    let kind = terry
        .until_event(|ev| match ev {
            EventBody::File { kind, .. } => Some(*kind),
            _ => None,
        })
        .await;
    assert_eq!(kind, FileKind::Image);
    core.stop().await;
}

#[tokio::test]
async fn an_oversized_upload_gets_413_and_nothing_is_half_sent() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.max_upload = 100 * 1024).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let big = test_bytes(300 * 1024, 2);

    // Declared too large: refused before reading.
    let resp = alice.upload("terry", "big.bin", &big, false).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        resp.text().contains("larger than the limit of 100.0 KiB"),
        "{}",
        resp.text()
    );
    // Streamed without a length: refused when the limit is crossed.
    let (content_type, body) = multipart(&[
        ("csrf", None, alice.csrf.as_bytes()),
        ("to", None, b"terry"),
        ("file", Some("big.bin"), &big),
    ]);
    let resp = alice
        .post_upload(&content_type, chunked(body, 16 * 1024), true)
        .await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(resp.json()["error"].as_str().unwrap().contains("100.0 KiB"));
    // Just under the limit goes through, and it is the first file terry sees.
    let ok = test_bytes(100 * 1024, 3);
    assert_eq!(
        alice.upload("terry", "ok.bin", &ok, true).await.status,
        StatusCode::OK
    );
    let (_, name, bytes) = terry.until_file().await;
    assert_eq!(name, "ok.bin");
    assert!(bytes == ok);
    core.stop().await;
}

#[tokio::test]
async fn uploads_need_the_csrf_token_and_a_session() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let (content_type, body) = multipart(&[
        ("csrf", None, b"0123456789abcdef0123456789abcdef"),
        ("to", None, b"terry"),
        ("file", Some("x.bin"), b"forged"),
    ]);
    let resp = alice.post_upload(&content_type, full(body), false).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    let (content_type, body) =
        multipart(&[("to", None, b"terry"), ("file", Some("x.bin"), b"no token")]);
    let resp = alice.post_upload(&content_type, full(body), true).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    // To someone who is not here: a clear refusal.
    let resp = alice.upload("nobody", "x.bin", b"x", true).await;
    assert_eq!(
        resp.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        resp.text()
    );
    alice.upload("terry", "real.bin", b"real", true).await;
    let (_, name, _) = terry.until_file().await;
    assert_eq!(name, "real.bin");
    core.stop().await;
}

/// Starts an upload by hand that sends its fields and the first 1 KiB of a
/// 1 MiB file, then nothing more; the connection stays open.
async fn stalled_upload(web: &Web) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let boundary = "stall-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nroom\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        web.csrf
    );
    let mut stream = tokio::net::TcpStream::connect(web.addr).await.unwrap();
    let request = format!(
        "POST /upload HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nOrigin: {}\r\nAccept: application/json\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        web.addr,
        web.cookie,
        web.origin(),
        head.len() + (1 << 20) + 64,
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&test_bytes(1024, 5)).await.unwrap();
    stream
}

/// Issue 10 item 11: uploads that stop sending free their slots after the
/// body-idle timeout, with a 400 and no partial file left; other uploads
/// then go through.
#[tokio::test]
async fn a_stalled_upload_is_cut_after_the_body_idle_timeout_and_frees_its_slot() {
    use tokio::io::AsyncReadExt;
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.max_uploads = 2;
        args.body_idle_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut stalls = vec![stalled_upload(&alice).await, stalled_upload(&bob).await];
    for stall in &mut stalls {
        let answer = within("the stalled upload's answer", async {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stall.read(&mut buf).await {
                all.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&all).into_owned()
        })
        .await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    let partial: Vec<_> = std::fs::read_dir(gw.state.spool.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".upload"))
        .collect();
    assert!(partial.is_empty(), "partial uploads left: {partial:?}");
    // Both slots are free again.
    let resp = alice.upload("terry", "after.bin", b"after", true).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(terry.until_file().await.1, "after.bin");
    core.stop().await;
}
