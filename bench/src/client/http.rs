//! The few HTTP requests a browser makes to the web gateway before and
//! besides its WebSocket: the join form (for the session cookie), the chat
//! page (for the upload form's CSRF token) and the upload itself, streamed.
//! hyper's HTTP/1 client, one connection per request.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{
    Request, StatusCode,
    body::Frame,
    header::{self, HeaderValue},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Error;

/// The gateway's session cookie name (WEBSOCKET.md).
pub const SESSION_COOKIE: &str = "switchboard_session";

/// Where the gateway is: `http://host:port`.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// `host:port`, for the Host and Origin headers and `ws://` URLs.
    pub authority: String,
    pub addr: SocketAddr,
}

impl Gateway {
    /// Parses `http://host:port` and resolves it.
    pub async fn resolve(base: &str) -> Result<Gateway, Error> {
        let authority = base
            .strip_prefix("http://")
            .ok_or_else(|| Error::Setup(format!("the gateway URL must be http://…, not {base}")))?
            .trim_end_matches('/')
            .to_string();
        let addr = tokio::net::lookup_host(&authority)
            .await?
            .next()
            .ok_or_else(|| Error::Setup(format!("cannot resolve {authority}")))?;
        Ok(Gateway { authority, addr })
    }

    /// The Origin a page served by the gateway sends.
    pub fn origin(&self) -> String {
        format!("http://{}", self.authority)
    }

    async fn send(
        &self,
        request: Request<BoxBody<Bytes, std::io::Error>>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), Error> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_error)?;
        tokio::spawn(conn);
        let response = sender.send_request(request).await.map_err(http_error)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(http_error)?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }

    fn request(&self, method: &str, path: &str) -> hyper::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::ORIGIN, self.origin())
    }

    /// Submits the join form as `name`; returns the `Cookie` header value.
    pub async fn join(&self, name: &str) -> Result<String, Error> {
        let request = self
            .request("POST", "/join")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(full(format!("name={name}")))
            .map_err(http_error)?;
        let (status, headers, _) = self.send(request).await?;
        if status != StatusCode::SEE_OTHER {
            return Err(Error::Refused(format!("join as {name}: HTTP {status}")));
        }
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|v| v.starts_with(SESSION_COOKIE))
            .map(str::to_string)
            .ok_or_else(|| Error::Refused("join: no session cookie".into()))
    }

    /// The upload form's CSRF token, from the chat page.
    pub async fn csrf(&self, cookie: &str) -> Result<String, Error> {
        let request = self
            .request("GET", "/chat")
            .header(header::COOKIE, cookie)
            .body(full(String::new()))
            .map_err(http_error)?;
        let (status, _, body) = self.send(request).await?;
        let page = String::from_utf8_lossy(&body);
        let marker = r#"name="csrf" value=""#;
        page.find(marker)
            .and_then(|at| page[at + marker.len()..].split('"').next())
            .map(str::to_string)
            .ok_or_else(|| Error::Refused(format!("chat page (HTTP {status}) has no CSRF token")))
    }

    /// Uploads a file of `size` bytes whose contents come from `chunks`, to
    /// user `to`, as the browser form does (`multipart/form-data`), streamed.
    pub async fn upload<S>(
        &self,
        cookie: &str,
        csrf: &str,
        to: &str,
        file_name: &str,
        size: u64,
        chunks: S,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Bytes> + Send + Sync + 'static,
    {
        let boundary = "----switchboard-bench-boundary-7f3a9c";
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{to}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let length = head.len() as u64 + size + tail.len() as u64;
        let parts = futures_util::stream::once(async move { Bytes::from(head) })
            .chain(chunks)
            .chain(futures_util::stream::once(async move { Bytes::from(tail) }))
            .map(|bytes| Ok::<_, std::io::Error>(Frame::data(bytes)));
        let request = self
            .request("POST", "/upload")
            .header(header::COOKIE, cookie)
            .header(header::ACCEPT, "application/json")
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
                    .map_err(http_error)?,
            )
            .header(header::CONTENT_LENGTH, length)
            .body(BodyExt::boxed(StreamBody::new(parts)))
            .map_err(http_error)?;
        let (status, _, body) = self.send(request).await?;
        if !status.is_success() {
            return Err(Error::Refused(format!(
                "upload: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(())
    }
}

fn full(body: String) -> BoxBody<Bytes, std::io::Error> {
    BodyExt::boxed(Full::new(Bytes::from(body)).map_err(|never| match never {}))
}

fn http_error(e: impl std::fmt::Display) -> Error {
    Error::Refused(format!("HTTP: {e}"))
}
