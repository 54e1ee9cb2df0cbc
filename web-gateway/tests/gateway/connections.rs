//! The HTTP listener's own limits (issue 10 item 10): header timeout and the
//! connection caps, per address tested from several loopback addresses.

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::support::*;

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    within("a TCP connect", socket.connect(addr)).await.unwrap()
}

/// Everything the server sends until it closes (a reset counts as closed).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    within("the server to close the connection", async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&all).into_owned()
}

/// A kept-alive HTTP/1.1 connection from `from` that has completed one
/// request (so the gateway has surely admitted it); the status it got.
async fn keep_alive_from(
    from: &str,
    addr: SocketAddr,
) -> (
    hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    StatusCode,
) {
    let stream = connect_from(from, addr).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/api/session")
        .header("host", addr.to_string())
        .body(Empty::new())
        .unwrap();
    let resp = within("a response", sender.send_request(req))
        .await
        .unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    (sender, status)
}

#[tokio::test]
async fn an_unfinished_request_or_an_idle_connection_is_closed_after_the_header_timeout() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.header_timeout = Duration::from_millis(300);
    })
    .await;
    let mut partial = TcpStream::connect(gw.addr).await.unwrap();
    partial
        .write_all(format!("GET / HTTP/1.1\r\nHost: {}\r\n", gw.addr).as_bytes())
        .await
        .unwrap();
    let mut silent = TcpStream::connect(gw.addr).await.unwrap();
    let answer = read_until_closed(&mut partial).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    read_until_closed(&mut silent).await;
    // A whole request in time is served as usual.
    assert_eq!(gw.get("/", None).await.status, StatusCode::OK);
    core.stop().await;
}

#[tokio::test]
async fn the_per_address_cap_refuses_one_address_and_not_another() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| {
        args.max_connections_per_addr = 3;
        args.limit_loopback = true;
        args.header_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let (sender, status) = keep_alive_from("127.0.0.2", gw.addr).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        held.push(sender);
    }
    // The fourth from 127.0.0.2 is answered 503 at once and closed.
    let mut fourth = connect_from("127.0.0.2", gw.addr).await;
    let answer = read_until_closed(&mut fourth).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    // 127.0.0.3 still gets in.
    let (_other, status) = keep_alive_from("127.0.0.3", gw.addr).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Closing one frees its place (the gateway notices the close soon).
    held.pop();
    within("a freed place", async {
        loop {
            let mut again = connect_from("127.0.0.2", gw.addr).await;
            again
                .write_all(
                    format!("GET /api/session HTTP/1.1\r\nHost: {}\r\n\r\n", gw.addr).as_bytes(),
                )
                .await
                .unwrap();
            let mut head = [0u8; 12];
            if again.read_exact(&mut head).await.is_ok() && head.ends_with(b"401") {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    core.stop().await;
}

#[tokio::test]
async fn loopback_is_exempt_from_the_per_address_cap_by_default() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.max_connections_per_addr = 2).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let (sender, status) = keep_alive_from("127.0.0.2", gw.addr).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        held.push(sender);
    }
    core.stop().await;
}

#[tokio::test]
async fn the_total_cap_refuses_with_503() {
    let core = TestCore::start().await;
    let gw = Gateway::start_with(core.addr, |args| args.max_connections = 2).await;
    let _a = keep_alive_from("127.0.0.2", gw.addr).await;
    let _b = keep_alive_from("127.0.0.3", gw.addr).await;
    let mut third = connect_from("127.0.0.4", gw.addr).await;
    let answer = read_until_closed(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    core.stop().await;
}
