//! Integration tests: the real server on 127.0.0.1:0, driven by small test
//! clients built on the codec. One binary; helpers in `support`.

mod support;

mod addresses;
mod binary;
mod file_flow;
mod files;
mod flood;
mod gateway;
mod idle_transfers;
mod images;
mod limits;
mod link_reset;
mod login;
mod room;
