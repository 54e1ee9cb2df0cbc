//! Uploads one session may run at once (`--max-uploads-per-user`): one user
//! cannot take every one of the `--max-uploads` slots, stalled or not.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use protocol::SessionId;

/// Cheap to clone.
#[derive(Clone)]
pub struct UserUploads {
    inner: Arc<Inner>,
}

struct Inner {
    max: usize,
    /// Uploads running per session (entries removed at zero). A std mutex,
    /// never held across an `.await`.
    running: Mutex<HashMap<SessionId, usize>>,
}

/// One running upload; dropping it frees the place.
pub struct UserUpload {
    uploads: UserUploads,
    session: SessionId,
}

impl UserUploads {
    pub fn new(max: usize) -> UserUploads {
        UserUploads {
            inner: Arc::new(Inner {
                max: max.max(1),
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, usize>> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more upload of `session`, if it has fewer than the max.
    pub fn start(&self, session: SessionId) -> Option<UserUpload> {
        let mut running = self.running();
        let n = running.entry(session).or_default();
        if *n >= self.inner.max {
            return None;
        }
        *n += 1;
        Some(UserUpload {
            uploads: self.clone(),
            session,
        })
    }
}

impl Drop for UserUpload {
    fn drop(&mut self) {
        let mut running = self.uploads.running();
        if let Some(n) = running.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_session_places() {
        let uploads = UserUploads::new(2);
        let a = (uploads.start(1).unwrap(), uploads.start(1).unwrap());
        assert!(uploads.start(1).is_none());
        assert!(uploads.start(2).is_some());
        drop(a);
        assert!(uploads.start(1).is_some());
        assert!(uploads.running().is_empty());
    }
}
