//! Helpers that make each gateway test a few readable lines. The core, the
//! terminal users (a raw protocol client) and the fixtures come from the shared
//! test kit (`testkit`); what is about the gateway lives here:
//!
//! - `gateway.rs`: [`Gateway`], the real gateway on a loopback port, linked to
//!   a core, and what a browser does before it has a session (join, forms).
//! - `browser.rs`: [`Web`], a browser's session (cookie, CSRF token), and
//!   [`Ws`], its WebSocket speaking JSON.
//! - `http.rs`: one HTTP/1.1 request on a fresh connection ([`send`]), bodies
//!   (whole, chunked, multipart) and the response read whole ([`Resp`]).
//! - `proxy.rs`: [`Proxy`], a TCP proxy in front of the core that can cut the
//!   gateway's link. `tap.rs`: [`Tap`], one that also reports the joins the
//!   gateway sends (their `addr`).
//!
//! Everything listens on 127.0.0.1 ephemeral ports; every wait has a timeout
//! ([`WAIT`]); nothing sleeps to synchronise.

mod browser;
mod gateway;
mod http;
mod proxy;
mod tap;

pub use browser::{Web, texts, users_of};
pub use gateway::Gateway;
pub use http::{Resp, chunked, full, multipart, send, send_as};
pub use proxy::Proxy;
pub use tap::Tap;
pub use testkit::{PNG, RawClient, TOKEN, TestCore, WAIT, config, test_bytes, user, within};
