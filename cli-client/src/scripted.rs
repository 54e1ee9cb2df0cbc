//! The front-end for scripts and tests (stdin is not a terminal): every
//! stdin line is a command; the end of stdin ends the session (after the
//! outgoing transfers finish).

use std::io::BufRead;

use tokio::sync::mpsc;

use crate::session::Input;

/// Reads stdin on its own thread (blocking reads must not hold a runtime
/// worker; the thread does not keep the process alive at exit). Bytes that
/// are not UTF-8 are replaced rather than dropping the line.
pub fn start() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if tx.blocking_send(Input::Line(line)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.blocking_send(Input::Eof);
    });
    rx
}
