//! The gateway token in a hello: compared in constant time; a wrong one is
//! answered only after `--auth-delay` and counted against its address, which
//! past `--max-auth-failures` is locked out for `--auth-lockout` (even the
//! right token is then refused). Guessing is slow, and a flood of guesses is
//! logged once per address per window (`admission.rs`), not per attempt.

use protocol::{ErrorCode, secrets_match};

use super::Connection;
use crate::notice::Bye;

impl Connection {
    /// Checks a hello's `token`: `Ok` makes this connection a gateway link.
    pub(super) async fn check_token(&self, token: &str) -> Result<(), Bye> {
        let locked = self.peer_ip.is_some_and(|ip| self.admission.locked_out(ip));
        let expected = self.config.gateway_token.as_deref();
        // Compared even when locked, so timing tells nothing either way.
        let right = expected.is_some_and(|e| secrets_match(token.as_bytes(), e.as_bytes()));
        if right && !locked {
            return Ok(());
        }
        let bye = if locked {
            Bye::new(
                ErrorCode::RateLimited,
                format!(
                    "too many wrong gateway tokens from your address; try again in up to {}s",
                    self.config.auth_lockout.as_secs()
                ),
            )
        } else {
            if let Some(ip) = self.peer_ip {
                self.admission.auth_failed(ip);
            }
            ErrorCode::Unauthorized.into()
        };
        // The delay: one guess per connection per `--auth-delay`. Shutdown
        // does not wait for it.
        tokio::select! {
            _ = tokio::time::sleep(self.config.auth_delay) => {}
            _ = self.stop.cancelled() => {}
        }
        Err(bye)
    }
}
