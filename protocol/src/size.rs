//! Sizes for people (`1.5 MiB`), the same in every client and log.

use bytesize::ByteSize;

/// `1536` -> `1.5 KiB`, `100 * 1024 * 1024` -> `100.0 MiB`: binary units, one
/// decimal, plain bytes below a KiB.
pub fn human_size(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec().to_string()
}

#[cfg(test)]
mod tests {
    use super::human_size;

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
