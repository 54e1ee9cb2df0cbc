//! The `core-server` binary: parse the options, log, serve until Ctrl-C or
//! SIGTERM, then drain.

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// Switchboard core server: the chat room terminal clients and the web gateway
/// connect to (protocol: core-server/PROTOCOL.md). Logs go to stderr; set
/// RUST_LOG (e.g. RUST_LOG=core_server=debug) for more.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    config: core_server::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    cli.config.validate()?;
    let listener = tokio::net::TcpListener::bind(cli.config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.config.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    core_server::serve(listener, cli.config, shutdown).await?;
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn signal_shutdown(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
    shutdown.cancel();
}
