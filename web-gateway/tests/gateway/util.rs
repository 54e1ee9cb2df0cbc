//! Helpers that make each test a few readable lines: a real core server, a
//! link-cutting TCP proxy, the gateway, web users (HTTP + WebSocket) and
//! terminal users (native protocol through core-server's codec), all on
//! 127.0.0.1 ephemeral ports. Every wait has a timeout; nothing sleeps.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{HeaderMap, Request, StatusCode, body::Frame as BodyFrame};
use hyper_util::rt::TokioIo;
use protocol::{
    ClientMsg, Event, EventBody, FileKind, PROTOCOL_VERSION, ServerMsg, Target, UserInfo,
    codec::{ClientCodec, Frame},
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest},
};
use tokio_util::{codec::Framed, sync::CancellationToken};
use web_gateway::{AppState, config::Args, link::LinkConfig};

/// Longest any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The gateway token of test cores.
pub const TOKEN: &str = "test-gateway-token";

/// Fails the test if `fut` takes longer than [`TIMEOUT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

// ---------------------------------------------------------------- core

/// A real core server in this process.
pub struct Core {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Core {
    pub async fn start() -> Core {
        Core::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// On a given address (to restart a core where the gateway expects it).
    pub async fn start_on(addr: SocketAddr) -> Core {
        let listener = TcpListener::bind(addr).await.expect("bind core");
        let addr = listener.local_addr().unwrap();
        let config = core_server::Config {
            listen: addr,
            gateway_token: Some(TOKEN.to_string()),
            ..Default::default()
        };
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            core_server::serve(listener, config, token)
                .await
                .expect("core server");
        });
        Core {
            addr,
            shutdown,
            task,
        }
    }

    /// Stops the core and waits until it has closed every connection.
    pub async fn stop(self) {
        self.shutdown.cancel();
        within("the core to stop", self.task).await.unwrap();
    }
}

// ---------------------------------------------------------------- proxy

/// A TCP proxy in front of the core that counts connections and can cut
/// them (and refuse new ones) until resumed.
pub struct Proxy {
    pub addr: SocketAddr,
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    accepted: AtomicUsize,
    live: AtomicUsize,
    /// `Some` while connections are let through; cancelled to cut them.
    open: Mutex<Option<CancellationToken>>,
    /// When set, a cut closes only the client side and keeps the server side
    /// open here (a link that vanished without the core noticing).
    hold: std::sync::atomic::AtomicBool,
    held: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(ProxyInner {
            accepted: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            open: Mutex::new(Some(CancellationToken::new())),
            hold: std::sync::atomic::AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        });
        let shared = inner.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let Some(cut) = shared.open.lock().unwrap().clone() else {
                    drop(client);
                    continue;
                };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                shared.live.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let was_cut = tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
                            _ = cut.cancelled() => true,
                        };
                        if was_cut && shared.hold.load(Ordering::SeqCst) {
                            shared.held.lock().unwrap().push(server);
                        }
                    }
                    shared.live.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Proxy { addr, inner }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        if let Some(token) = self.inner.open.lock().unwrap().take() {
            token.cancel();
        }
    }

    /// Lets connections through again.
    pub fn resume(&self) {
        *self.inner.open.lock().unwrap() = Some(CancellationToken::new());
    }

    /// Closes the client side of every connection but keeps the server side
    /// open (the core does not notice), and lets new connections through.
    pub fn vanish(&self) {
        self.inner.hold.store(true, Ordering::SeqCst);
        self.cut();
        self.resume();
    }

    /// Closes the server sides kept by [`Proxy::vanish`].
    pub fn release(&self) {
        self.inner.hold.store(false, Ordering::SeqCst);
        self.inner.held.lock().unwrap().clear();
    }
}

// ---------------------------------------------------------------- gateway

pub struct Gateway {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Gateway {
    pub async fn start(core: SocketAddr) -> Gateway {
        Gateway::start_with(core, |_| {}).await
    }

    /// With options changed by `tweak`; waits until the link is up.
    pub async fn start_with(core: SocketAddr, tweak: impl FnOnce(&mut Args)) -> Gateway {
        let mut args = Args {
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_millis(200),
            ..Default::default()
        };
        tweak(&mut args);
        let link = LinkConfig {
            addr: core.to_string(),
            token: TOKEN.to_string(),
            backoff_min: args.reconnect_min,
            backoff_max: args.reconnect_max,
            ping_every: Duration::from_secs(5),
        };
        let shutdown = CancellationToken::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = web_gateway::start(args, link, &shutdown).expect("gateway state");
        let app = web_gateway::app(state.clone());
        let token = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .unwrap();
        });
        assert!(
            state.link.wait_up(TIMEOUT).await,
            "gateway link did not come up"
        );
        Gateway {
            addr,
            state,
            shutdown,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Joins through the join page like a browser; panics unless it works.
    pub async fn join(&self, name: &str) -> Web {
        let resp = self.post_form("/join", None, &format!("name={name}")).await;
        assert_eq!(
            resp.status,
            StatusCode::SEE_OTHER,
            "join {name}: {}",
            resp.text()
        );
        assert_eq!(resp.header("location"), Some("/chat"));
        let set_cookie = resp
            .header("set-cookie")
            .expect("a session cookie")
            .to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set_cookie.contains(attr), "{set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let page = self.get("/chat", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = extract_csrf(&page.text());
        Web {
            name: name.to_string(),
            cookie,
            csrf,
            addr: self.addr,
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let mut req = Request::get(path);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        send(self.addr, req, full(Bytes::new())).await
    }

    pub async fn post_form(&self, path: &str, cookie: Option<&str>, body: &str) -> Resp {
        let mut req = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.origin());
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        send(self.addr, req, full(Bytes::from(body.to_string()))).await
    }
}

fn extract_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..at + 32].to_string()
}

// ---------------------------------------------------------------- HTTP

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

type Body = BoxBody<Bytes, Infallible>;

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
    within("an HTTP response", async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = req.header("host", addr.to_string()).body(body).unwrap();
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

// ---------------------------------------------------------------- web users

/// A browser session: its cookie and CSRF token.
pub struct Web {
    pub name: String,
    pub cookie: String,
    pub csrf: String,
    pub addr: SocketAddr,
}

impl Web {
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn ws(&self) -> Ws {
        self.ws_since(0).await
    }

    /// Opens the WebSocket (resuming after `since`) and reads the hello.
    pub async fn ws_since(&self, since: u64) -> Ws {
        let mut ws = self
            .try_ws(&format!("/ws?since={since}"), &self.origin())
            .await
            .expect("WebSocket");
        let hello = ws.next().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        assert_eq!(hello["you"], self.name.as_str());
        ws.hello = hello;
        ws
    }

    /// Opens a WebSocket with a given Origin; the HTTP status if refused.
    pub async fn try_ws(&self, path: &str, origin: &str) -> Result<Ws, StatusCode> {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("cookie", self.cookie.parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        match within(
            "the WebSocket handshake",
            tokio_tungstenite::connect_async(req),
        )
        .await
        {
            Ok((stream, _)) => Ok(Ws {
                stream,
                hello: Value::Null,
            }),
            Err(tungstenite::Error::Http(resp)) => Err(resp.status()),
            Err(e) => panic!("WebSocket connect failed: {e}"),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        let req = Request::get(path).header("cookie", &self.cookie);
        send(self.addr, req, full(Bytes::new())).await
    }

    /// Uploads through the form: `json` = as the page's JavaScript does.
    pub async fn upload(&self, to: &str, file_name: &str, bytes: &[u8], json: bool) -> Resp {
        let (content_type, body) = multipart(&[
            ("csrf", None, self.csrf.as_bytes()),
            ("to", None, to.as_bytes()),
            ("file", Some(file_name), bytes),
        ]);
        self.post_upload(&content_type, full(body), json).await
    }

    pub async fn post_upload(&self, content_type: &str, body: Body, json: bool) -> Resp {
        let mut req = Request::post("/upload")
            .header("cookie", &self.cookie)
            .header("origin", self.origin())
            .header("content-type", content_type);
        if json {
            req = req.header("accept", "application/json");
        }
        send(self.addr, req, body).await
    }
}

/// A browser's WebSocket.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The hello it received.
    pub hello: Value,
}

impl Ws {
    /// The next JSON message.
    pub async fn next(&mut self) -> Value {
        loop {
            let msg = within("a WebSocket message", self.stream.next())
                .await
                .expect("WebSocket open")
                .expect("WebSocket message");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Close(frame) => panic!("WebSocket closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next message of a type, skipping others.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            let msg = self.next().await;
            if msg["type"] == kind {
                return msg;
            }
        }
    }

    /// Every message up to and including the first that matches `pred`.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let msg = self.next().await;
            let done = pred(&msg);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }

    /// Waits for a room or private message with this text.
    pub async fn expect_text(&mut self, text: &str) -> Value {
        self.until(|m| m["text"] == text).await.pop().unwrap()
    }

    pub async fn send_json(&mut self, value: Value) {
        within(
            "a WebSocket send",
            self.stream.send(Message::text(value.to_string())),
        )
        .await
        .unwrap();
    }

    pub async fn say(&mut self, text: &str) {
        self.send_json(serde_json::json!({"type": "say", "text": text}))
            .await;
    }

    pub async fn private(&mut self, to: &str, text: &str) {
        self.send_json(serde_json::json!({"type": "private", "to": to, "text": text}))
            .await;
    }

    pub async fn send_raw(&mut self, msg: Message) -> Result<(), tungstenite::Error> {
        self.stream.send(msg).await
    }

    /// Waits until the gateway closes the socket (or it errors).
    pub async fn closed(&mut self) {
        within("the WebSocket to close", async {
            while let Some(Ok(msg)) = self.stream.next().await {
                if let Message::Close(_) = msg {
                    return;
                }
            }
        })
        .await
    }
}

/// Names in a user list (hello or users message), with their kinds.
pub fn users_of(msg: &Value) -> Vec<(String, String)> {
    let mut users: Vec<(String, String)> = msg["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap().to_string(),
                u["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    users.sort();
    users
}

// ---------------------------------------------------------------- terminal users

/// A terminal user: a direct TCP connection speaking the native protocol.
pub struct Tcp {
    conn: Framed<TcpStream, ClientCodec>,
    pub users: Vec<UserInfo>,
    next_id: u32,
}

impl Tcp {
    pub async fn join(core: SocketAddr, name: &str) -> Tcp {
        let stream = TcpStream::connect(core).await.unwrap();
        let mut tcp = Tcp {
            conn: Framed::new(stream, ClientCodec::client()),
            users: Vec::new(),
            next_id: 0,
        };
        tcp.send(ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            client: "gateway-test".into(),
            gateway_token: None,
        })
        .await;
        tcp.send(ClientMsg::Join {
            name: name.into(),
            since: None,
        })
        .await;
        tcp.users = tcp
            .expect(|msg| match msg {
                ServerMsg::Welcome { users, .. } => Some(users.clone()),
                ServerMsg::Error { message, .. } => panic!("join refused: {message}"),
                _ => None,
            })
            .await;
        tcp
    }

    pub async fn send(&mut self, msg: ClientMsg) {
        self.send_frame(Frame::new(msg)).await;
    }

    async fn send_frame(&mut self, frame: Frame<ClientMsg>) {
        within("a TCP send", self.conn.send(frame)).await.unwrap();
    }

    /// The next frame (pings answered).
    pub async fn next(&mut self) -> Frame<ServerMsg> {
        loop {
            let frame = within("a frame from the core", self.conn.next())
                .await
                .expect("core connection open")
                .expect("valid frame");
            if let ServerMsg::Ping { nonce } = frame.msg {
                self.send(ClientMsg::Pong { nonce }).await;
                continue;
            }
            return frame;
        }
    }

    /// Reads until `f` returns something.
    pub async fn expect<T>(&mut self, mut f: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        loop {
            let frame = self.next().await;
            if let Some(t) = f(&frame.msg) {
                return t;
            }
        }
    }

    /// Waits for an event whose body matches.
    pub async fn expect_event<T>(&mut self, mut f: impl FnMut(&EventBody) -> Option<T>) -> T {
        self.expect(|msg| match msg {
            ServerMsg::Event(Event { event, .. }) => f(event),
            _ => None,
        })
        .await
    }

    /// Waits for a room message with this text; returns its sender.
    pub async fn expect_message(&mut self, text: &str) -> String {
        self.expect_event(|ev| match ev {
            EventBody::Message { from, text: t } if t == text => Some(from.clone()),
            _ => None,
        })
        .await
    }

    pub async fn say(&mut self, text: &str) {
        self.send(ClientMsg::Say { text: text.into() }).await;
    }

    pub async fn private(&mut self, to: &str, text: &str) {
        self.send(ClientMsg::Private {
            to: to.into(),
            text: text.into(),
        })
        .await;
    }

    /// Sends a file (offer, 64 KiB chunks, end) and waits for the accept.
    pub async fn send_file(&mut self, to: Target, name: &str, bytes: &[u8], kind: FileKind) {
        self.next_id += 1;
        let id = self.next_id;
        self.send(ClientMsg::FileOffer {
            id,
            to,
            name: name.into(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            kind,
        })
        .await;
        for chunk in bytes.chunks(64 * 1024) {
            self.send_frame(
                Frame::new(ClientMsg::FileChunk { id }).with_payload(Bytes::copy_from_slice(chunk)),
            )
            .await;
        }
        self.send(ClientMsg::FileEnd { id }).await;
        self.expect(|msg| match msg {
            ServerMsg::FileAccepted { id: i, .. } if *i == id => Some(()),
            ServerMsg::FileFailed { id: i, message, .. } if *i == id => {
                panic!("file refused: {message}")
            }
            _ => None,
        })
        .await;
    }

    /// Receives the next whole file: (from, name, bytes).
    pub async fn receive_file(&mut self) -> (String, String, Vec<u8>) {
        let (from, name, transfer, sha) = self
            .expect_event(|ev| match ev {
                EventBody::File {
                    from,
                    name,
                    transfer,
                    sha256,
                    ..
                } => Some((from.clone(), name.clone(), *transfer, sha256.clone())),
                _ => None,
            })
            .await;
        let mut bytes = Vec::new();
        loop {
            let frame = self.next().await;
            match frame.msg {
                ServerMsg::FileChunk { transfer: t } if t == transfer => {
                    bytes.extend_from_slice(&frame.payload)
                }
                ServerMsg::FileEnd { transfer: t } if t == transfer => break,
                ServerMsg::FileAbort {
                    transfer: t,
                    message,
                    ..
                } if t == transfer => {
                    panic!("file aborted: {message}")
                }
                _ => {}
            }
        }
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
        (from, name, bytes)
    }
}

/// Deterministic test bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed as u32) as u8
        })
        .collect()
}

/// A tiny valid PNG (1x1, red).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];
