//! Turning a file name chosen by a stranger into one that is safe to show and
//! to create on disk. Senders clean what they offer; receivers clean it again.

/// Longest saved file name in bytes (most file systems allow 255; leave room
/// for a ` (12)` suffix and the partial-file decoration).
pub const MAX_FILE_NAME: usize = 200;

/// What a name that sanitises to nothing becomes.
const FALLBACK: &str = "file";

/// The sender's base name made safe: the last path component (either kind of
/// separator), without control characters, without leading dots or spaces
/// (no hidden files, no `..`), runs of dots collapsed (no `..` anywhere),
/// trailing dots and spaces trimmed, at most [`MAX_FILE_NAME`] bytes with the
/// extension kept. Never empty.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        if c.is_control() || is_invisible_trouble(c) {
            continue;
        }
        if c == '.' && out.ends_with('.') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' '])
        .to_string();
    let capped = cap_len(&trimmed, MAX_FILE_NAME);
    if capped.is_empty() {
        FALLBACK.to_string()
    } else {
        capped
    }
}

/// Unicode characters that are not "control" but can disguise a name in a
/// listing (bidirectional overrides, zero-width joiners).
fn is_invisible_trouble(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Shortens `name` to at most `max` bytes on a char boundary, keeping a short
/// extension so the file still opens with the right program.
fn cap_len(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 16 => &name[i..],
        _ => "",
    };
    let mut stem_end = max - ext.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{}", &name[..stem_end], ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising() {
        let check = |input: &str, expected: &str| {
            assert_eq!(safe_file_name(input), expected, "sanitising {input:?}");
        };
        check("cat.png", "cat.png");
        check("my report v2.pdf", "my report v2.pdf");
        check("../../x", "x");
        check("..\\..\\windows\\x.exe", "x.exe");
        check("a/b", "b");
        check("/etc/passwd", "passwd");
        check("dir/", FALLBACK);
        check("..", FALLBACK);
        check("...", FALLBACK);
        check("", FALLBACK);
        check(".bashrc", "bashrc");
        check(" . hidden", "hidden");
        check("a..b", "a.b");
        check("name.", "name");
        check("bell\u{7}\u{1b}[31mred\n.txt", "bell[31mred.txt");
        check("evil\u{202E}gnp.exe", "evilgnp.exe");
        check("\u{0}\u{1}", FALLBACK);
        check("ünïcødé 猫.png", "ünïcødé 猫.png");
    }

    #[test]
    fn long_names_are_capped_keeping_the_extension() {
        let long = format!("{}.png", "a".repeat(400));
        let safe = safe_file_name(&long);
        assert_eq!(safe.len(), MAX_FILE_NAME);
        assert!(safe.ends_with(".png"));
        // Multi-byte characters are never cut in half.
        let wide = "猫".repeat(100);
        let safe = safe_file_name(&wide);
        assert!(safe.len() <= MAX_FILE_NAME);
        assert!(safe.chars().all(|c| c == '猫'));
    }
}
