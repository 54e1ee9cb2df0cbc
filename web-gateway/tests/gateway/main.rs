//! Integration tests of the web gateway: a real core server (the shared test
//! kit's `TestCore`), the real gateway, browsers played by tokio-tungstenite +
//! hyper, terminal users by the kit's raw protocol client, all over TCP on
//! 127.0.0.1. One test binary; one file per topic; helpers in `support`.

mod support;

mod binary;
mod chat;
mod connections;
mod files;
mod flow;
mod limits;
mod link;
mod per_address;
mod rebinding;
mod sessions;
mod spool_idle;
mod uploads;
