//! A user on plain IRC (RFC 2812 over TCP): `NICK`/`USER`, `JOIN` one channel,
//! `PRIVMSG` to the channel (room) or to a nick (private), `PONG` to `PING`.
//! The same load as the native protocol, so an IRC server is a fair peer.

use std::{net::SocketAddr, sync::Arc};

use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpStream, sync::mpsc};
use tokio_util::codec::{Framed, LinesCodec};

use super::{Command, End};
use crate::{Error, metrics::Recorder};

/// The one channel every benchmark user joins: the IRC form of "the room".
pub const CHANNEL: &str = "#bench";

/// Longest line accepted from the server. IRC lines are at most 512 bytes;
/// servers with extensions send a little more.
const MAX_LINE: usize = 8192;

pub type Conn = Framed<TcpStream, LinesCodec>;

/// A parsed server line: the command (or numeric) and its parameters, the
/// trailing one included.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub command: &'a str,
    pub params: Vec<&'a str>,
}

/// Parses `[:prefix] COMMAND params [:trailing]`.
pub fn parse(line: &str) -> Option<Line<'_>> {
    let line = line.trim_end_matches('\r');
    let rest = match line.strip_prefix(':') {
        Some(with_prefix) => with_prefix.split_once(' ')?.1,
        None => line,
    };
    let (middle, trailing) = match rest.split_once(" :") {
        Some((middle, trailing)) => (middle, Some(trailing)),
        None => (rest, None),
    };
    let mut words = middle.split(' ').filter(|w| !w.is_empty());
    let command = words.next()?;
    let mut params: Vec<&str> = words.collect();
    params.extend(trailing);
    Some(Line { command, params })
}

async fn send_line(conn: &mut Conn, line: String) -> Result<(), Error> {
    // LinesCodec ends lines with "\n"; IRC wants "\r\n".
    conn.send(line + "\r")
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))
}

async fn next_line(conn: &mut Conn, during: &'static str) -> Result<String, Error> {
    match conn.next().await {
        Some(Ok(line)) => Ok(line),
        Some(Err(e)) => Err(Error::Io(std::io::Error::other(e))),
        None => Err(Error::Closed(during)),
    }
}

/// Registers as `nick` and joins [`CHANNEL`]; returns once the server has
/// sent the channel's names list (the join is complete).
pub async fn join(addr: SocketAddr, nick: &str) -> Result<Conn, Error> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut conn = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    send_line(&mut conn, format!("NICK {nick}")).await?;
    send_line(&mut conn, format!("USER {nick} 0 * :switchboard bench")).await?;
    send_line(&mut conn, format!("JOIN {CHANNEL}")).await?;
    loop {
        let text = next_line(&mut conn, "join").await?;
        let Some(line) = parse(&text) else { continue };
        match line.command {
            "PING" => {
                let token = line.params.first().copied().unwrap_or("");
                send_line(&mut conn, format!("PONG :{token}")).await?;
            }
            // End of NAMES: we are in the channel.
            "366" => return Ok(conn),
            "ERROR" => return Err(Error::Refused(text)),
            // Nick in use / erroneous, cannot join, and other refusals.
            numeric if numeric.starts_with('4') => return Err(Error::Refused(text)),
            _ => {}
        }
    }
}

/// Sends what the scenario asks and reports every `PRIVMSG` text.
pub async fn run(
    mut conn: Conn,
    idx: u32,
    rec: Arc<Recorder>,
    mut commands: mpsc::Receiver<Command>,
) -> End {
    loop {
        tokio::select! {
            command = commands.recv() => {
                let line = match command {
                    Some(Command::Room(text)) => format!("PRIVMSG {CHANNEL} :{text}"),
                    Some(Command::Private { to, text }) => format!("PRIVMSG {to} :{text}"),
                    Some(Command::StopReading) => {
                        // Keep the socket open, read nothing, until told to quit.
                        while let Some(command) = commands.recv().await {
                            if matches!(command, Command::Quit) {
                                break;
                            }
                        }
                        return read_back(conn, idx, &rec).await;
                    }
                    Some(Command::Quit) | None => {
                        let _ = send_line(&mut conn, "QUIT :done".into()).await;
                        return End::default();
                    }
                };
                if send_line(&mut conn, line).await.is_err() {
                    rec.mark_disconnected(idx);
                    return End { closed_by_server: true, reason: Some("write failed".into()) };
                }
            }
            text = conn.next() => {
                let text = match text {
                    Some(Ok(text)) => text,
                    Some(Err(e)) => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: Some(e.to_string()) };
                    }
                    None => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: None };
                    }
                };
                let Some(line) = parse(&text) else { continue };
                match line.command {
                    "PRIVMSG" => {
                        if let Some(body) = line.params.get(1) {
                            rec.on_text(idx, body);
                        }
                    }
                    "PING" => {
                        let token = line.params.first().copied().unwrap_or("").to_string();
                        let _ = send_line(&mut conn, format!("PONG :{token}")).await;
                    }
                    "ERROR" => {
                        rec.mark_disconnected(idx);
                        return End { closed_by_server: true, reason: Some(text) };
                    }
                    _ => {}
                }
            }
        }
    }
}

/// After stalling: did the server drop us (an `ERROR` line or a close)?
async fn read_back(conn: Conn, idx: u32, rec: &Recorder) -> End {
    super::read_back(conn, idx, rec, |text: String| {
        text.starts_with("ERROR").then_some(Some(text))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_lines() {
        let check = |text: &str, command: &str, params: &[&str]| {
            assert_eq!(
                parse(text),
                Some(Line {
                    command,
                    params: params.to_vec()
                }),
                "{text:?}"
            );
        };
        check(
            ":a!~a@127.0.0.1 PRIVMSG #bench :sb 1 2 3 M  xx",
            "PRIVMSG",
            &["#bench", "sb 1 2 3 M  xx"],
        );
        check("PING :irc.local", "PING", &["irc.local"]);
        check(
            ":srv 366 bob #bench :End of NAMES list\r",
            "366",
            &["bob", "#bench", "End of NAMES list"],
        );
        check(":srv 001 bob", "001", &["bob"]);
        assert_eq!(parse(""), None);
        assert_eq!(parse(":prefixonly"), None);
    }
}
