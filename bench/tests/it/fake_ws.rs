//! A tiny WebSocket broadcast server for the WebSocket driver's smoke tests,
//! speaking what `bench/peers/ws-server.js` speaks: the name in the query,
//! a `welcome` once registered,
//! `say` -> `message` to everyone, `private` -> to one user.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{Request, Response},
};

type Members = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>>;

/// Starts the server; returns its `ws://` URL.
// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
pub async fn start() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let members = Members::default();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let members = members.clone();
            tokio::spawn(async move {
                let mut name = String::new();
                let callback = |req: &Request, resp: Response| {
                    name = req
                        .uri()
                        .query()
                        .and_then(|q| q.strip_prefix("name="))
                        .unwrap_or("anon")
                        .to_string();
                    Ok(resp)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(socket, callback).await else {
                    return;
                };
                let (mut write, mut read) = ws.split();
                let (tx, mut rx) = mpsc::unbounded_channel();
                // Registered first, then welcomed: a client that has its
                // welcome is sure to receive the next broadcast.
                let _ = tx.send(Message::text(r#"{"type":"welcome"}"#));
                members.lock().unwrap().insert(name.clone(), tx);
                tokio::spawn(async move {
                    while let Some(msg) = rx.recv().await {
                        if write.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
                while let Some(Ok(Message::Text(text))) = read.next().await {
                    let msg: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let body = msg["text"].as_str().unwrap_or_default();
                    let members = members.lock().unwrap();
                    match msg["type"].as_str() {
                        Some("say") => {
                            let out = Message::text(
                                serde_json::json!({"type": "message", "from": name, "text": body})
                                    .to_string(),
                            );
                            for member in members.values() {
                                let _ = member.send(out.clone());
                            }
                        }
                        Some("private") => {
                            let to = msg["to"].as_str().unwrap_or_default();
                            if let Some(member) = members.get(to) {
                                let out = serde_json::json!(
                                    {"type": "private", "from": name, "to": to, "text": body}
                                );
                                let _ = member.send(Message::text(out.to_string()));
                            }
                        }
                        _ => {}
                    }
                }
                members.lock().unwrap().remove(&name);
            });
        }
    });
    format!("ws://{addr}/")
}
