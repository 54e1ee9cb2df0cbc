//! The connected period: relay between typed commands, the server's frames
//! and the transfer tasks until `/quit`, the end of input (once what is
//! pending is done) or the loss of the connection.

use std::time::Duration;

use futures_util::StreamExt;
use protocol::{
    ClientMsg, Limits,
    client::{Conn, KeepAlive, ReadError, Welcome, spawn_writer},
};
use tokio::{
    sync::mpsc::{self, error::TrySendError},
    time::{Instant, interval, timeout},
};

use super::{Ended, Input, Session};
use crate::{
    command::{self, Command},
    render::Output,
    room::Room,
    view::DRAIN_NONCE,
};

/// Capacity of the writer's control queue (frames).
const CONTROL_QUEUE: usize = 256;
/// Capacity of its file queue (chunks of `CHUNK_SIZE`): small, so a file
/// never sits in memory and chat never waits behind many chunks.
const FILE_QUEUE: usize = 4;

/// Silence after which the connection is considered dead. The shared
/// [`KeepAlive`] pings after half of it and gives up after all of it.
const DEAD_AFTER: Duration = Duration::from_secs(45);
/// At the end of input, how long to wait for the pong to the drain ping.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);
/// How long leaving waits to queue the quit frame, then to write what is
/// queued: a server that stopped reading must not keep us.
const QUIT_PATIENCE: Duration = Duration::from_secs(5);

impl Session {
    /// The connected period: until quit or the connection is lost.
    pub(super) async fn in_room(
        &mut self,
        conn: Conn,
        limits: Limits,
        welcome: Welcome,
        reconnect: bool,
    ) -> Ended {
        tracing::info!(name = %welcome.name, users = welcome.users.len(), history = welcome.history.len(), "joined");
        let (sink, mut stream) = conn.split();
        let (outbox, mut writer) = spawn_writer(sink, CONTROL_QUEUE, FILE_QUEUE);
        let (progress_tx, mut progress_rx) = mpsc::channel(64);
        let me = welcome.name.clone();
        let mut room = Room::new(
            self.ui.clone(),
            self.view.clone(),
            self.opts.download_dir.clone(),
            me.clone(),
            limits,
            outbox,
            progress_tx,
        );
        room.set_users(&welcome.users);
        self.view.update(|v| {
            v.name = Some(me.clone());
            v.connected = true;
        });
        self.ui.emit(Output::Welcome {
            name: me,
            server: self.opts.server.clone(),
            users: room.others(),
            last_seq: welcome.last_seq,
            reconnect,
        });
        for event in welcome.history {
            self.ui.emit(Output::Event {
                event,
                history: true,
            });
        }

        let mut ticker = interval(Duration::from_secs(1));
        let mut keepalive = KeepAlive::new(DEAD_AFTER / 2);
        // The keep-alive's pings and pongs go straight to the writer's control
        // queue; only when it is full do they wait here, for an awaited send
        // after the `select!` (the keep-alive's callback cannot await).
        let control = room.control();
        let mut replies = Vec::new();
        let mut drain_deadline = None;
        let ended = loop {
            for frame in replies.drain(..) {
                room.send_frame(frame).await;
            }
            if self.eof && !room.has_outgoing() {
                // Before leaving, a ping: the server answers in order, so its
                // pong comes after every reply to what we sent (echoes,
                // errors, the user list), which scripts then get to see.
                match drain_deadline {
                    None => {
                        room.send_paced(ClientMsg::Ping { nonce: DRAIN_NONCE })
                            .await;
                        drain_deadline = Some(Instant::now() + DRAIN_PATIENCE);
                    }
                    Some(deadline) if room.drained() || Instant::now() >= deadline => {
                        break Ended::Quit;
                    }
                    Some(_) => {}
                }
            }
            tokio::select! {
                // A transfer task reports its SHA-256 before it queues the
                // offer, so polling reports first guarantees it is known when
                // the server's receipts for that offer are handled.
                biased;
                _ = self.quit.cancelled() => break Ended::Quit,
                Some(progress) = progress_rx.recv() => room.on_progress(progress).await,
                // Pings (the server's, answered) and pongs to our keep-alive
                // pings stay inside; the pong to the drain ping comes out.
                frame = keepalive.next(&mut stream, |frame| {
                    if let Err(TrySendError::Full(frame)) = control.try_send(frame) {
                        replies.push(frame);
                    }
                }) => match frame {
                    Ok(frame) => {
                        if let Some(reason) = room.on_frame(frame).await {
                            break Ended::Lost(reason);
                        }
                    }
                    Err(ReadError::Silent) => break Ended::Lost(format!(
                        "nothing heard from the server for {} s",
                        DEAD_AFTER.as_secs()
                    )),
                    Err(e) => break Ended::Lost(e.to_string()),
                },
                input = self.input.recv(), if !self.eof => match input {
                    None | Some(Input::Eof) => self.eof = true,
                    Some(Input::Line(line)) => match command::parse(&line) {
                        Ok(None) => {}
                        Ok(Some(Command::Quit)) => break Ended::Quit,
                        Ok(Some(command)) => {
                            let id = self.next_id;
                            if room.on_command(command, id).await {
                                self.next_id += 1;
                            }
                        }
                        Err(e) => self.ui.emit(Output::Error {
                            code: "bad_command".into(),
                            text: e.to_string(),
                        }),
                    },
                },
                _ = ticker.tick() => {
                    if self.eof {
                        room.give_up_stale_receipts();
                    }
                }
                result = &mut writer => {
                    let reason = match result {
                        Ok(Err(e)) => e.to_string(),
                        _ => "the connection closed".into(),
                    };
                    break Ended::Lost(reason);
                }
            }
        };
        match &ended {
            Ended::Quit => {
                let _ = timeout(QUIT_PATIENCE, room.send(ClientMsg::Quit)).await;
                room.close().await;
                // The writer ends once every sender of its control queue is
                // gone; then everything queued (the last messages, the quit)
                // is written before the connection closes.
                drop((room, control));
                let _ = timeout(QUIT_PATIENCE, writer).await;
            }
            Ended::Lost(_) => {
                writer.abort();
                room.close().await;
            }
        }
        ended
    }
}
