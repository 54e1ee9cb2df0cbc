//! The library's error type: what can stop [`crate::serve`] from running.
//! Problems with one client never surface here; they end that connection only.

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is contradictory (see [`crate::Config::validate`]).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The listening socket failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}
