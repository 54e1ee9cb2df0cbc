//! Integration tests: a real core server in the test's process (the shared
//! `testkit`) and real `switchboard` processes, mostly in scripted `--json`
//! mode. One test binary; cli-specific helpers in `support`.

mod support;

mod chat;
mod files;
mod flood;
mod hostile;
mod private;
mod reconnect;
mod startup;
mod terminal;
