//! Files from terminal users to browsers: who may fetch them, and how they are
//! served (only real images inline, everything else as an attachment).

use hyper::StatusCode;
use protocol::{FileKind, Target};

use crate::support::*;

#[tokio::test]
async fn a_terminal_image_reaches_a_web_user_and_no_one_else() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut a = alice.ws().await;

    terry
        .send_file_accepted(1, user("alice"), "cat.png", FileKind::Image, PNG)
        .await;
    let file = a.expect("file").await;
    assert_eq!(file["from"], "terry");
    assert_eq!(file["name"], "cat.png");
    assert_eq!(file["size"], PNG.len());
    assert_eq!(file["inline"], true);
    let url = file["url"].as_str().unwrap();
    let resp = alice.get(url).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(&resp.body[..], PNG);
    assert_eq!(resp.header("content-type"), Some("image/png"));
    assert!(
        resp.header("content-disposition")
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    assert!(
        resp.header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );

    // Another session, or no session, cannot fetch it.
    assert_eq!(bob.get(url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(gw.get(url, None).await.status, StatusCode::NOT_FOUND);
    core.stop().await;
}

#[tokio::test]
async fn only_real_images_are_inline_everything_else_is_an_attachment() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let mut terry = core.join("terry").await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut a = alice.ws().await;
    let mut b = bob.ws().await;
    // Whatever the name says, a file that is not a real image is opaque
    // bytes: never HTML, SVG or a script in our origin.
    let cases: [(&str, &[u8]); 4] = [
        ("page.html", b"<script>alert(1)</script>"),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
        ),
        ("app.js", b"alert(document.cookie)"),
        ("fake.png", b"not really a png"),
    ];
    for (id, (name, bytes)) in (1..).zip(cases) {
        // Room-wide: every web user gets it, each can fetch it.
        terry
            .send_file_accepted(id, Target::Room, name, FileKind::File, bytes)
            .await;
        let file = a.expect("file").await;
        assert_eq!(file["name"], name);
        assert_eq!(file["inline"], false);
        assert!(file.get("to").is_none());
        let resp = alice.get(file["url"].as_str().unwrap()).await;
        assert_eq!(&resp.body[..], bytes);
        assert_eq!(
            resp.header("content-type"),
            Some("application/octet-stream"),
            "{name}"
        );
        assert_eq!(file["mime"], "application/octet-stream", "{name}");
        assert!(
            resp.header("content-disposition")
                .unwrap()
                .starts_with("attachment"),
            "{name}"
        );
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        let file_b = b.expect("file").await;
        assert_eq!(
            bob.get(file_b["url"].as_str().unwrap()).await.body,
            resp.body
        );
    }
    core.stop().await;
}

/// Issue 10 item 14: a `.js` a browser uploads is not served as JavaScript
/// (it would load as a same-origin script under `script-src 'self'`).
#[tokio::test]
async fn an_uploaded_script_is_served_as_an_opaque_attachment() {
    let core = TestCore::start().await;
    let gw = Gateway::start(core.addr).await;
    let alice = gw.join("alice").await;
    let bob = gw.join("bob").await;
    let mut b = bob.ws().await;
    let script = b"fetch('/api/session').then(r => r.text()).then(alert)";
    let resp = alice.upload("bob", "evil.js", script, true).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let file = b.expect("file").await;
    assert_eq!(file["name"], "evil.js");
    assert_eq!(file["inline"], false);
    let resp = bob.get(file["url"].as_str().unwrap()).await;
    assert_eq!(&resp.body[..], script);
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        resp.header("content-disposition")
            .unwrap()
            .starts_with("attachment"),
    );
    assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    core.stop().await;
}
