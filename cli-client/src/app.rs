//! Wiring: picks the front-end (interactive when stdin is a terminal,
//! scripted otherwise), and runs the session with it.

use std::{io::IsTerminal, sync::Arc};

use tokio_util::sync::CancellationToken;

use crate::{
    args::Args,
    interactive,
    render::Output,
    scripted,
    session::{self, Options},
    ui::Ui,
    view::ViewHandle,
};

/// Runs the client; an error is the one line to show before exiting non-zero.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let download_dir = std::path::absolute(&args.download_dir)?;
    let interactive = std::io::stdin().is_terminal() && !args.json;
    let opts = Options {
        server: args.server.clone(),
        name: args.name.clone(),
        download_dir,
        reconnect_attempts: args
            .reconnect_attempts
            .unwrap_or(if interactive { 0 } else { 5 }),
    };
    if interactive {
        let color = args.color_allowed() && std::io::stdout().is_terminal();
        let quit = CancellationToken::new();
        let (ui, view, input, editor) = interactive::start(color, quit.clone())?;
        ui.emit(Output::Info(format!(
            "Connecting to {}… (type /help for commands, Ctrl-D to leave)",
            opts.server
        )));
        let result = session::run(opts, ui, view, input, quit).await;
        editor.stop();
        result
    } else {
        let color = args.color_allowed() && std::io::stdout().is_terminal();
        let ui = Ui::scripted(args.json, color);
        let view = ViewHandle::new(Arc::new(|| {}));
        // Scripts end by closing stdin; a signal ends them the default way.
        let never = CancellationToken::new();
        let result = session::run(opts, ui.clone(), view, scripted::start(), never).await;
        if let (Err(e), true) = (&result, args.json) {
            // Scripts reading only stdout see why we stopped too.
            ui.emit_stdout_only(Output::Error {
                code: "fatal".into(),
                text: format!("{e:#}"),
            });
        }
        result
    }
}
