//! Command-line options (clap).

use std::path::PathBuf;

use clap::Parser;

/// Chat in the Switchboard room from the terminal.
///
/// With a terminal on stdin you get a line editor (history, Tab completion of
/// commands and names, progress bars). Without one (a pipe, a script), every
/// stdin line is a command and every event is one line on stdout; see
/// `--json`. Type `/help` once connected for the commands.
#[derive(Parser, Debug, Clone)]
#[command(name = "switchboard", version, about, long_about)]
pub struct Args {
    /// Address of the core server (host:port).
    #[arg(long, default_value = "127.0.0.1:7878", env = "SWITCHBOARD_SERVER")]
    pub server: String,

    /// Your name in the room: 1-32 letters, digits, '_' or '-'. Without it
    /// you are asked for one (in scripted mode: the first stdin line).
    #[arg(long)]
    pub name: Option<String>,

    /// Where received files are saved (created on demand).
    #[arg(long, default_value = "received_files")]
    pub download_dir: PathBuf,

    /// Scripted mode: print every event as one JSON object per line
    /// (format documented in README.md, "Chat from the terminal").
    #[arg(long)]
    pub json: bool,

    /// No colours in the output (the NO_COLOR environment variable does the
    /// same).
    #[arg(long)]
    pub no_color: bool,

    /// Give up reconnecting after this many failed attempts in a row (0 =
    /// never give up). Interactive sessions default to never; scripted ones
    /// to 5 so a script cannot hang forever.
    #[arg(long)]
    pub reconnect_attempts: Option<u32>,
}

impl Args {
    /// Whether colours are wanted at all (the terminal check comes later).
    pub fn color_allowed(&self) -> bool {
        !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}
