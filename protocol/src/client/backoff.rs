//! The delays between reconnect attempts: exponential from a minimum to a
//! maximum, with jitter so that many clients of one restarted server do not
//! all come back in the same millisecond. `backon` computes them.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Reconnect delays; [`Backoff::reset`] after a connection that worked.
#[derive(Debug)]
pub struct Backoff {
    /// The settings, to start over after a success.
    builder: ExponentialBuilder,
    /// The delays still to come in this run of failures.
    delays: ExponentialBackoff,
    /// Where the delays stop growing (backon's own cap is the same; this one
    /// also holds once its iterator would end).
    max: Duration,
}

impl Backoff {
    /// Delays from `min`, doubling up to `max` (a `max` below `min` is `min`).
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let max = max.max(min);
        let builder = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Backoff {
            builder,
            delays: builder.build(),
            max,
        }
    }

    /// How long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.max)
    }

    /// The last attempt worked: the next failure waits the minimum again.
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_starts_over() {
        let min = Duration::from_millis(100);
        let max = Duration::from_millis(800);
        let mut backoff = Backoff::new(min, max);
        let first = backoff.next_delay();
        assert!(first >= min && first <= min * 2, "{first:?}");
        let later: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        // Jitter adds at most the delay itself on top of the cap.
        assert!(later.iter().all(|d| *d <= max * 2), "{later:?}");
        assert!(later[5..].iter().all(|d| *d >= max), "{later:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= min * 2);
    }
}
