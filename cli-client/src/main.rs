//! `switchboard`: the Switchboard terminal client.
//!
//! # Layout
//! - `args`: command-line options. `app`: picks the front-end and runs.
//! - `command`: what a typed line means (`/private`, `/sendfile`, …).
//! - `session/`: the connect / join / reconnect loop (`mod.rs`), connecting
//!   and joining under a name (`join.rs`), and the connected period with the
//!   shared keep-alive and the drain ping (`connected.rs`). Connecting,
//!   framing, the writer task, keep-alive and backoff are `protocol::client`'s;
//!   nothing here frames bytes.
//! - `room/`: the state of one connected period and what commands and server
//!   frames do to it (`mod.rs`); our offers and their receipts
//!   (`outgoing.rs`); files arriving (`incoming.rs`). Pacing to the server's
//!   rate limit is `protocol::rate::Pacer`.
//! - `transfer_out` / `transfer_in`: files streamed from / to disk, SHA-256
//!   checked; `save`: where a received file goes, never overwriting.
//! - `view`: what the front-end shows around the prompt, and the drain
//!   ping's nonce (shared by session and room, so neither imports the other).
//! - `render/`: events as readable lines (`text.rs`) or JSON lines
//!   (`json.rs`), control sequences stripped (`controls.rs`); `ui`: where
//!   they go.
//! - `interactive/` (line editor: `prompt.rs`, `complete.rs`, `hangup.rs`)
//!   and `scripted` (stdin lines): the two front-ends.

mod app;
mod args;
mod command;
mod interactive;
mod render;
mod room;
mod save;
mod scripted;
mod session;
mod transfer_in;
mod transfer_out;
mod ui;
mod view;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("switchboard: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}
