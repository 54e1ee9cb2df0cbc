//! Smoke runs of every scenario at tiny size, against real servers on
//! 127.0.0.1:0: the core and the web gateway in-process, and small in-test stand-ins for the IRC
//! and WebSocket peers (the real peers are not part of the test path).

mod fake_irc;
mod fake_ws;
mod gateway;
mod scenarios;
mod support;
