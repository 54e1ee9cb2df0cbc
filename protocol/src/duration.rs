//! Durations on the command line, written the same way on every binary:
//! `250ms`, `10s`, `2m` (a bare number is seconds).

use std::time::Duration;

/// Parses `250ms`, `10s`, `2m` or a bare number of seconds (for clap's
/// `value_parser`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 250ms, 10s or 2m"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("{s:?}: the unit must be ms, s or m")),
    }
}

/// For the old `--*-ms` flags, kept for one release: a bare number is
/// milliseconds, a number with a unit means what it says.
pub fn parse_millis(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    match s.parse::<u64>() {
        Ok(n) => Ok(Duration::from_millis(n)),
        Err(_) => parse_duration(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str, d: Duration| assert_eq!(parse_duration(s), Ok(d), "{s:?}");
        ok("250ms", Duration::from_millis(250));
        ok("10s", Duration::from_secs(10));
        ok(" 2m ", Duration::from_secs(120));
        ok("7", Duration::from_secs(7));
        for bad in ["", "s", "10h", "-1s", "1.5s", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_millis("500"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_millis("2s"), Ok(Duration::from_secs(2)));
    }
}
