//! A tiny IRC server for the IRC driver's smoke tests: registration, one
//! channel, PRIVMSG to the channel or to a nick, QUIT. Just enough of RFC 2812
//! for the load generator; the real peer (ngircd) runs in `bench/run.sh`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

/// Nick -> the queue of lines for that client's writer.
type Members = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>;

/// Starts the server on an ephemeral port; it runs until the test ends.
pub async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let members = Members::default();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, members.clone()));
        }
    });
    addr
}

async fn serve(socket: TcpStream, members: Members) {
    let (read, mut write) = socket.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(read).lines();
    let mut nick = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim_end_matches('\r');
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        match command {
            "NICK" => nick = rest.to_string(),
            "USER" => {
                let _ = tx.send(format!(":fake 001 {nick} :Welcome\r\n"));
            }
            "JOIN" => {
                members.lock().unwrap().insert(nick.clone(), tx.clone());
                let _ = tx.send(format!(":fake 366 {nick} {rest} :End of NAMES list\r\n"));
            }
            "PRIVMSG" => {
                let Some((to, text)) = rest.split_once(" :") else {
                    continue;
                };
                let out = format!(":{nick}!u@h PRIVMSG {to} :{text}\r\n");
                let members = members.lock().unwrap();
                if to.starts_with('#') {
                    for (name, member) in members.iter() {
                        if *name != nick {
                            let _ = member.send(out.clone());
                        }
                    }
                } else if let Some(member) = members.get(to) {
                    let _ = member.send(out);
                }
            }
            "QUIT" => break,
            _ => {}
        }
    }
    members.lock().unwrap().remove(&nick);
}
