//! The room's recent messages for joiners' welcomes, bounded in count
//! (`--history`) and in bytes (`--history-bytes`, their JSON as sent), oldest
//! dropped first: a welcome costs at most about `--history-bytes`, however
//! long the messages were, so a joiner that never reads pins little.

use std::collections::VecDeque;

use protocol::{Event, Seq};

#[derive(Debug)]
pub(super) struct History {
    /// Oldest first, each with its size in the welcome's JSON.
    items: VecDeque<(Event, usize)>,
    /// Sum of the sizes in `items`.
    bytes: usize,
    /// Most messages kept.
    max_items: usize,
    /// Most bytes of JSON kept.
    max_bytes: usize,
}

impl History {
    pub(super) fn new(max_items: usize, max_bytes: usize) -> History {
        History {
            items: VecDeque::new(),
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    /// Keeps `event`, dropping the oldest until both bounds hold (a single
    /// message over the byte bound is not kept at all).
    pub(super) fn push(&mut self, event: Event) {
        let size = json_len(&event);
        self.items.push_back((event, size));
        self.bytes += size;
        while self.items.len() > self.max_items || self.bytes > self.max_bytes {
            let Some((_, size)) = self.items.pop_front() else {
                break;
            };
            self.bytes -= size;
        }
    }

    /// The kept messages with a seq after `since` (all without), oldest first.
    pub(super) fn since(&self, since: Option<Seq>) -> Vec<Event> {
        self.items
            .iter()
            .filter(|(e, _)| since.is_none_or(|s| e.seq > s))
            .map(|(e, _)| e.clone())
            .collect()
    }
}

/// Bytes of `event` as JSON, counted without building the string.
fn json_len(event: &Event) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, event).expect("events always serialise");
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::EventBody;

    fn message(seq: Seq, text: &str) -> Event {
        Event {
            seq,
            ts: 0,
            event: EventBody::Message {
                from: "a".into(),
                text: text.into(),
            },
        }
    }

    #[test]
    fn bounded_in_count_and_in_bytes_oldest_first() {
        let size = json_len(&message(1, &"x".repeat(100)));
        assert_eq!(
            size,
            serde_json::to_vec(&message(1, &"x".repeat(100)))
                .unwrap()
                .len()
        );
        let mut history = History::new(10, 3 * size);
        for seq in 1..=5 {
            history.push(message(seq, &"x".repeat(100)));
        }
        let seqs: Vec<Seq> = history.since(None).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(history.bytes, 3 * size);
        let mut by_count = History::new(2, usize::MAX);
        for seq in 1..=5 {
            by_count.push(message(seq, "hi"));
        }
        assert_eq!(by_count.since(Some(3)).len(), 2);
        assert_eq!(by_count.since(Some(4)).len(), 1);
        let mut none = History::new(0, usize::MAX);
        none.push(message(1, "hi"));
        assert!(none.since(None).is_empty());
        let mut too_big = History::new(10, 10);
        too_big.push(message(1, "far more than ten bytes of JSON"));
        assert!(too_big.since(None).is_empty() && too_big.bytes == 0);
    }
}
