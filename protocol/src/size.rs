//! Sizes for people (`1.5 MiB`), the same in every client and log, and sizes
//! from people (`1MiB`, `64MiB` on the command line).

use bytesize::ByteSize;

/// `1536` -> `1.5 KiB`, `100 * 1024 * 1024` -> `100.0 MiB`: binary units, one
/// decimal, plain bytes below a KiB.
pub fn human_size(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

/// A size flag: `1048576`, `512KiB`, `1MiB`, `64 MiB` (binary units; `1MB`
/// is 1,000,000). For every binary's byte-count flags.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| format!("'{text}' is not a size (e.g. 65536, 512KiB, 1MiB, 64MiB)"))
}

#[cfg(test)]
mod tests {
    use super::{human_size, parse_size};

    #[test]
    fn sizes_from_flags() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn human_sizes() {
        let check = |bytes: u64, expected: &str| assert_eq!(human_size(bytes), expected);
        check(0, "0 B");
        check(1023, "1023 B");
        check(1536, "1.5 KiB");
        check(1_234_567, "1.2 MiB");
        check(100 * 1024 * 1024, "100.0 MiB");
        check(5 << 30, "5.0 GiB");
    }
}
