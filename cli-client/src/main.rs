//! `switchboard`: the Switchboard terminal client.
//!
//! # Layout
//! - `args`: command-line options. `app`: picks the front-end and runs.
//! - `command`: what a typed line means (`/private`, `/sendfile`, …).
//! - `connection`: connect, handshake, join, and the writer task (through
//!   core-server's codec; no framing here).
//! - `session`: the connect / join / reconnect loop and the connected loop;
//!   `room`: the state of one connected period and what commands and server
//!   frames do to it;
//!   `pace`: waits instead of hitting the server's rate limit.
//! - `transfer_out` / `transfer_in`: files streamed from / to disk, SHA-256
//!   checked; `safe_name`: what received files are called.
//! - `render`: events as readable lines or JSON lines; `ui`: where they go.
//! - `interactive` (line editor, progress bars) and `scripted` (stdin lines):
//!   the two front-ends.

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
