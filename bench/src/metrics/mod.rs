//! What a run measures: delivery latency from timestamps the load generator
//! puts in each message body, per-client counts of what arrived, and which
//! messages have reached all their recipients (closed-loop senders wait on it).
//!
//! `micros` in a stamp is read from the recorder's own monotonic clock: sender
//! and receivers live in the same process, so one clock measures the whole
//! trip without any clock synchronisation.
//!
//! # Layout
//! - `recorder.rs`: [`Recorder`], shared by every client of a run; receivers
//!   report each text to it, scenarios read the figures from it.
//! - `stamp.rs`: the body format, `sb <sender> <seq> <micros> <kind> x…`.
//! - `latency.rs`: histogram bounds and the [`Latency`] percentiles.
//! - `window.rs`: per-sender windows of in-flight messages, completed by acks.
//! - `barrier.rs`: the sync barrier between phases.

mod barrier;
mod latency;
mod recorder;
mod stamp;
mod window;

pub use latency::Latency;
pub use recorder::Recorder;
pub use stamp::{Kind, Stamp, body, parse};
pub use window::MAX_WINDOW;
