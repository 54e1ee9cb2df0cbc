//! The stamp the load generator writes at the start of every message body,
//! and reads back on arrival.
//!
//! Every body starts with `sb <sender> <seq> <micros> <kind> ` and is padded
//! with `x` to the wanted size. `micros` is read from the recorder's own
//! monotonic clock (see [`super::Recorder`]).

/// Whether a message is part of the measurement or a barrier between phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Counted and timed.
    Measured,
    /// Only proves that everything sent before it has been delivered.
    Sync,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Measured => 'M',
            Kind::Sync => 'S',
        }
    }
}

/// The fields the load generator stamps into a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sender: u32,
    pub seq: u64,
    pub micros: u64,
    pub kind: Kind,
}

/// Builds a body of exactly `size` bytes (or the stamp's length, if longer).
pub fn body(stamp: Stamp, size: usize) -> String {
    let mut text = format!(
        "sb {} {} {} {} ",
        stamp.sender,
        stamp.seq,
        stamp.micros,
        stamp.kind.letter()
    );
    if text.len() < size {
        text.extend(std::iter::repeat_n('x', size - text.len()));
    }
    text
}

/// Reads the stamp back; `None` for text the load generator did not write.
pub fn parse(text: &str) -> Option<Stamp> {
    let mut parts = text.strip_prefix("sb ")?.splitn(5, ' ');
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let micros = parts.next()?.parse().ok()?;
    let kind = match parts.next()? {
        "M" => Kind::Measured,
        "S" => Kind::Sync,
        _ => return None,
    };
    Some(Stamp {
        sender,
        seq,
        micros,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_at_the_asked_size() {
        let stamp = Stamp {
            sender: 3,
            seq: 77,
            micros: 123_456,
            kind: Kind::Measured,
        };
        let text = body(stamp, 256);
        assert_eq!(text.len(), 256);
        assert_eq!(parse(&text), Some(stamp));
        let sync = Stamp {
            kind: Kind::Sync,
            ..stamp
        };
        assert_eq!(parse(&body(sync, 0)), Some(sync));
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("sb 1 2 x M "), None);
        assert_eq!(parse("sb 1 2 3 Q "), None);
    }
}
