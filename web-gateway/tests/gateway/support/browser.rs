//! A browser: its session (cookie and CSRF token, as the chat page hands them
//! out) and its WebSocket, which speaks the gateway's JSON messages.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::{Request, StatusCode};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest},
};

use super::{
    http::{Body, Resp, full, multipart, send, send_as},
    within,
};

/// A browser session: its cookie and CSRF token.
pub struct Web {
    /// The name it joined as (its WebSocket hello must say so).
    pub name: String,
    /// `switchboard_session=...`, as the browser sends it back.
    pub cookie: String,
    /// The token the chat page's forms carry.
    pub csrf: String,
    /// The gateway's address (also its Origin).
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
        self.try_ws_as(&self.addr.to_string(), path, origin).await
    }

    /// [`Web::try_ws`] with another `Host` header.
    pub async fn try_ws_as(&self, host: &str, path: &str, origin: &str) -> Result<Ws, StatusCode> {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("host", host.parse().unwrap());
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

    /// A small JSON upload sent under another `Host` and `Origin`.
    pub async fn post_upload_as(&self, host: &str, origin: &str) -> Resp {
        let (content_type, body) = multipart(&[
            ("csrf", None, self.csrf.as_bytes()),
            ("to", None, b"room"),
            ("file", Some("a.txt"), b"hello"),
        ]);
        let req = Request::post("/upload")
            .header("cookie", &self.cookie)
            .header("origin", origin)
            .header("content-type", content_type)
            .header("accept", "application/json");
        send_as(self.addr, host, req, full(body)).await
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

/// The texts of the room and private messages among `msgs`, in order.
pub fn texts(msgs: &[Value]) -> Vec<String> {
    msgs.iter()
        .filter(|m| m["type"] == "message" || m["type"] == "private")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}
