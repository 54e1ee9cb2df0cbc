//! A user over WebSocket (tokio-tungstenite), in two dialects: Switchboard's
//! web gateway (`/ws`, JSON, session cookie from the join form) and the
//! reference Node `ws` broadcast server in `bench/peers/ws-server.js`, which
//! speaks the same JSON shapes for `say`/`private` and `message`/`private`.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, client_async, connect_async_with_config,
    tungstenite::{
        Message,
        client::IntoClientRequest,
        http::{HeaderValue, header},
    },
};

use super::{Command, End, http::Gateway, native};
use crate::{Error, metrics::Recorder};

pub type Conn = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which server is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Gateway,
    Peer,
}

/// The only part of an incoming JSON message the load generator needs: the
/// chat text, at the top level (`message`, `private`) or in an `event`.
#[derive(Deserialize)]
struct Incoming {
    #[serde(default)]
    text: Option<String>,
    /// Replayed from before this user joined (earlier runs' messages).
    #[serde(default)]
    history: bool,
    #[serde(default)]
    event: Option<Box<Incoming>>,
}

impl Incoming {
    fn text(&self) -> Option<&str> {
        if self.history {
            return None;
        }
        self.text
            .as_deref()
            .or_else(|| self.event.as_ref().and_then(|e| e.text()))
    }
}

/// Connects to the Node peer as `name` (it takes the name from the query)
/// and waits for its `welcome`, sent once we are registered for broadcasts.
pub async fn join_peer(url: &str, name: &str) -> Result<Conn, Error> {
    let request = format!("{url}?name={name}").into_client_request()?;
    // `true`: TCP_NODELAY, as for every other client here (Nagle would add
    // delayed-ACK stalls of ~40 ms to small messages).
    let (mut conn, _) = connect_async_with_config(request, None, true).await?;
    loop {
        match conn.next().await {
            Some(Ok(Message::Text(text))) if text.contains(r#""welcome""#) => return Ok(conn),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(Error::Closed("join")),
        }
    }
}

/// Joins the gateway as `name` (join form, session cookie) and opens its
/// WebSocket like a page would; returns after the gateway's `hello`.
pub async fn join_gateway(base: &str, name: &str) -> Result<Conn, Error> {
    join_gateway_with(base, name, None).await
}

/// Like [`join_gateway`], over a socket with a `recv_buffer`-byte kernel
/// receive buffer (the slow consumer).
pub async fn join_gateway_with(
    base: &str,
    name: &str,
    recv_buffer: Option<u32>,
) -> Result<Conn, Error> {
    let gateway = Gateway::resolve(base).await?;
    let cookie = gateway.join(name).await?;
    let mut request = format!("ws://{}/ws?since=0", gateway.authority).into_client_request()?;
    let headers = request.headers_mut();
    headers.insert(header::COOKIE, header_value(&cookie)?);
    headers.insert(header::ORIGIN, header_value(&gateway.origin())?);
    let stream = native::dial(gateway.addr, recv_buffer).await?;
    let (mut conn, _) = client_async(request, MaybeTlsStream::Plain(stream)).await?;
    loop {
        match conn.next().await {
            Some(Ok(Message::Text(text))) if text.contains(r#""type":"hello""#) => return Ok(conn),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(Error::Closed("join")),
        }
    }
}

fn header_value(value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|e| Error::Setup(e.to_string()))
}

fn outgoing(command: &Command) -> Option<String> {
    let json = match command {
        Command::Room(text) => serde_json::json!({"type": "say", "text": text}),
        Command::Private { to, text } => {
            serde_json::json!({"type": "private", "to": to, "text": text})
        }
        _ => return None,
    };
    Some(json.to_string())
}

/// Sends what the scenario asks and reports every chat text.
pub async fn run(
    mut conn: Conn,
    _dialect: Dialect,
    idx: u32,
    rec: Arc<Recorder>,
    mut commands: mpsc::Receiver<Command>,
) -> End {
    loop {
        tokio::select! {
            command = commands.recv() => {
                match command {
                    Some(Command::StopReading) => {
                        while let Some(command) = commands.recv().await {
                            if matches!(command, Command::Quit) {
                                break;
                            }
                        }
                        return read_back(conn, idx, &rec).await;
                    }
                    Some(Command::Quit) | None => {
                        let _ = conn.close(None).await;
                        return End::default();
                    }
                    Some(command) => {
                        let text = outgoing(&command).expect("chat commands encode");
                        if conn.send(Message::text(text)).await.is_err() {
                            rec.mark_disconnected(idx);
                            return End { closed_by_server: true, reason: Some("write failed".into()) };
                        }
                    }
                }
            }
            msg = conn.next() => {
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(body) = serde_json::from_str::<Incoming>(&text)
                            .ok()
                            .as_ref()
                            .and_then(Incoming::text)
                        {
                            rec.on_text(idx, body);
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: frame.map(|f| f.reason.to_string()) };
                    }
                    // Pings are answered by tungstenite itself on the next read/write.
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: Some(e.to_string()) };
                    }
                    None => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: None };
                    }
                }
            }
        }
    }
}

/// After stalling: did the server close us?
async fn read_back(conn: Conn, idx: u32, rec: &Recorder) -> End {
    super::read_back(conn, idx, rec, |msg: Message| match msg {
        Message::Close(frame) => Some(frame.map(|f| f.reason.to_string())),
        _ => None,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_text_at_either_level() {
        let top: Incoming =
            serde_json::from_str(r#"{"type":"message","from":"a","text":"hi"}"#).unwrap();
        assert_eq!(top.text(), Some("hi"));
        let nested: Incoming = serde_json::from_str(
            r#"{"type":"event","seq":1,"event":{"type":"private","text":"yo"}}"#,
        )
        .unwrap();
        assert_eq!(nested.text(), Some("yo"));
        let none: Incoming = serde_json::from_str(r#"{"type":"users","users":[]}"#).unwrap();
        assert_eq!(none.text(), None);
        let old: Incoming =
            serde_json::from_str(r#"{"type":"message","text":"before","history":true}"#).unwrap();
        assert_eq!(old.text(), None);
    }
}
