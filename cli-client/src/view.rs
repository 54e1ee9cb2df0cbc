//! What the front-end shows around the prompt (the shared view) and the
//! nonce of the drain ping: shared by the session and the room.

use std::sync::{Arc, Mutex};

/// What the front-end shows around the prompt: kept up to date by the
/// session. A std `Mutex`, never held across an `.await`.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// Our name once joined (the prompt shows it), `None` while choosing.
    pub name: Option<String>,
    pub connected: bool,
    /// Everyone else in the room, for Tab completion.
    pub users: Vec<String>,
    /// The input has ended; the client leaves once its transfers are done.
    pub leaving: bool,
}

/// A shared [`View`] plus a hook that tells the front-end to redraw.
#[derive(Clone)]
pub struct ViewHandle {
    view: Arc<Mutex<View>>,
    changed: Arc<dyn Fn() + Send + Sync>,
}

impl ViewHandle {
    pub fn new(changed: Arc<dyn Fn() + Send + Sync>) -> ViewHandle {
        ViewHandle {
            view: Arc::default(),
            changed,
        }
    }

    pub fn get(&self) -> View {
        self.view.lock().expect("view lock").clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self.view.lock().expect("view lock"));
        (self.changed)();
    }
}

/// The nonce of the ping sent before leaving at the end of input. Not the
/// keep-alive's own nonce: `KeepAlive` swallows pongs to that one, and the
/// room must see this pong to know that every earlier reply is in.
pub const DRAIN_NONCE: u64 = 0x5157_0bad;
const _: () = assert!(DRAIN_NONCE != protocol::client::KEEPALIVE_NONCE);
