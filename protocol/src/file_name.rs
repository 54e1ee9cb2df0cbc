//! Turning a file name chosen by a stranger into one that is safe to show and
//! to create on disk. Senders clean what they offer; receivers clean it again.

/// Longest saved file name in bytes (most file systems allow 255; leave room
/// for a ` (12)` suffix and the partial-file decoration).
pub const MAX_FILE_NAME: usize = 200;

/// What a name that sanitises to nothing becomes.
const FALLBACK: &str = "file";

/// The sender's base name made safe: the last path component (either kind of
/// separator), without control characters (C0, DEL, C1) or invisible format
/// characters ([`is_invisible_format`]), without leading dots or spaces
/// (no hidden files, no `..`), runs of dots collapsed (no `..` anywhere),
/// trailing dots and spaces trimmed, at most [`MAX_FILE_NAME`] bytes with the
/// extension kept. Never empty.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        if c.is_control() || is_invisible_format(c) {
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

/// Unicode format characters that are not "control" (`char::is_control`)
/// but can disguise text: the bidirectional controls reorder what follows
/// (`invoice\u{202E}gnp.exe` shows as "invoiceexe.png"), the others are
/// invisible and make two different strings look the same. The one rule for
/// every Switchboard crate: file names drop them, the terminal client shows
/// them as `<U+202E>` and escapes them in `--json`, the browser shows them
/// visibly too.
///
/// Zero-width (non-)joiners U+200C/U+200D are deliberately not here: they
/// shape letters in Persian and Indic scripts and build emoji sequences, and
/// cannot reorder or hide text.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        // Soft hyphen, Arabic letter mark, Mongolian vowel separator.
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        // Zero-width space, left-to-right and right-to-left marks.
        | '\u{200B}' | '\u{200E}' | '\u{200F}'
        // Embeddings, overrides and their pop (LRE, RLE, PDF, LRO, RLO).
        | '\u{202A}'..='\u{202E}'
        // Word joiner, invisible operators, isolates (LRI, RLI, FSI, PDI) and
        // the deprecated shaping controls.
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        // Byte order mark / zero-width no-break space.
        | '\u{FEFF}'
        // Interlinear annotation controls.
        | '\u{FFF9}'..='\u{FFFB}'
    )
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
    // The cut may fall just after a space or a dot: trim again, or the name
    // would end in one (or meet the extension's dot as `..`). The stem cannot
    // become empty: the name starts with neither (see `safe_file_name`).
    let stem = name[..stem_end].trim_end_matches(['.', ' ']);
    format!("{stem}{ext}")
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
        check("invoice\u{202E}gnp.exe", "invoicegnp.exe");
        check(
            "a\u{2066}b\u{2069}\u{200E}\u{200F}\u{061C}\u{FEFF}\u{2060}.txt",
            "ab.txt",
        );
        // C1 controls and DEL.
        check("c1\u{85}\u{9B}31m\u{7F}.txt", "c131m.txt");
        // Joiners stay: they shape scripts and emoji, they cannot reorder.
        check(
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}.txt",
            "\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}.txt",
        );
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

    #[test]
    fn cutting_a_long_name_leaves_no_trailing_space_or_dot() {
        // What an earlier fuzz run of `safe_file_name` found: the cut fell just after a
        // space, or just after a dot that then met the kept extension.
        let spaced = format!("{} b", "a".repeat(MAX_FILE_NAME - 1));
        assert_eq!(safe_file_name(&spaced), "a".repeat(MAX_FILE_NAME - 1));
        let dotted = format!("{}.{}.png", "a".repeat(195), "b".repeat(10));
        assert_eq!(safe_file_name(&dotted), format!("{}.png", "a".repeat(195)));
        let both = format!("{} .{}", "a".repeat(MAX_FILE_NAME - 2), "b".repeat(40));
        assert_eq!(safe_file_name(&both), "a".repeat(MAX_FILE_NAME - 2));
    }
}
