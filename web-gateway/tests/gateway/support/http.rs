//! HTTP as a test needs it: one request on a fresh HTTP/1.1 connection
//! (hyper's client, no pool, so no state carries over between requests),
//! request bodies (whole, chunked, multipart) and the response read whole.

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{HeaderMap, StatusCode, body::Frame as BodyFrame};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use super::within;

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

pub type Body = BoxBody<Bytes, Infallible>;

pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed()
}

/// A body sent with chunked encoding (no Content-Length), in `chunk`-sized parts.
pub fn chunked(bytes: Bytes, chunk: usize) -> Body {
    let parts: Vec<Result<BodyFrame<Bytes>, Infallible>> = bytes
        .chunks(chunk)
        .map(|c| Ok(BodyFrame::data(Bytes::copy_from_slice(c))))
        .collect();
    BodyExt::boxed(StreamBody::new(futures_util::stream::iter(parts)))
}

/// One request on a fresh HTTP/1.1 connection (hyper's client, no pool).
pub async fn send(addr: SocketAddr, req: hyper::http::request::Builder, body: Body) -> Resp {
    send_as(addr, &addr.to_string(), req, body).await
}

/// [`send`] with another `Host` header (as a page under another name would).
pub async fn send_as(
    addr: SocketAddr,
    host: &str,
    req: hyper::http::request::Builder,
    body: Body,
) -> Resp {
    send_with(addr, host, None, req, body).await
}

/// [`send`] from another loopback source address (`127.0.0.2`, …).
pub async fn send_from(
    from: &str,
    addr: SocketAddr,
    req: hyper::http::request::Builder,
    body: Body,
) -> Resp {
    send_with(addr, &addr.to_string(), Some(from), req, body).await
}

async fn send_with(
    addr: SocketAddr,
    host: &str,
    from: Option<&str>,
    req: hyper::http::request::Builder,
    body: Body,
) -> Resp {
    within("an HTTP response", async {
        let stream = match from {
            None => TcpStream::connect(addr).await.unwrap(),
            Some(from) => {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
                socket.connect(addr).await.unwrap()
            }
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = req.header("host", host).body(body).unwrap();
        let resp = sender.send_request(req).await.expect("HTTP response");
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    })
    .await
}

/// A multipart/form-data body with the given fields, in order; a field with a
/// file name is a file part.
pub fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Bytes) {
    let boundary = "----switchboard-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file_name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(file_name) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(body),
    )
}
