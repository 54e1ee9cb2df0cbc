//! Turning a name chosen by a stranger into a file name that is safe to
//! create in the download directory, and picking one that does not exist yet.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

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
pub fn sanitize(name: &str) -> String {
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

/// `name` with ` (n)` before its extension: `cat.png` -> `cat (1).png`.
fn with_suffix(name: &str, n: u32) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

/// Moves the finished `partial` file to `dir/<safe name>`, never replacing an
/// existing file: the final name is first claimed with `create_new` (atomic,
/// so two transfers finishing at once cannot pick the same name), then the
/// partial file is renamed over the claim. Returns the final path.
pub fn place(partial: &Path, dir: &Path, safe_name: &str) -> io::Result<PathBuf> {
    for n in 0..10_000 {
        let candidate = if n == 0 {
            safe_name.to_string()
        } else {
            with_suffix(safe_name, n)
        };
        let path = dir.join(&candidate);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => {
                if let Err(e) = fs::rename(partial, &path) {
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(path);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("too many files named like {safe_name:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising() {
        let check = |input: &str, expected: &str| {
            assert_eq!(sanitize(input), expected, "sanitising {input:?}");
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
        let safe = sanitize(&long);
        assert_eq!(safe.len(), MAX_FILE_NAME);
        assert!(safe.ends_with(".png"));
        // Multi-byte characters are never cut in half.
        let wide = "猫".repeat(100);
        let safe = sanitize(&wide);
        assert!(safe.len() <= MAX_FILE_NAME);
        assert!(safe.chars().all(|c| c == '猫'));
    }

    #[test]
    fn suffixes() {
        assert_eq!(with_suffix("cat.png", 1), "cat (1).png");
        assert_eq!(with_suffix("README", 2), "README (2)");
        assert_eq!(with_suffix("a.tar.gz", 3), "a.tar (3).gz");
    }

    #[test]
    fn placing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.txt"), b"old").unwrap();
        let mut placed = Vec::new();
        for content in [&b"one"[..], b"two"] {
            let partial = dir.path().join(".part");
            fs::write(&partial, content).unwrap();
            placed.push(place(&partial, dir.path(), "x.txt").unwrap());
            assert!(!partial.exists());
        }
        assert_eq!(fs::read(dir.path().join("x.txt")).unwrap(), b"old");
        assert_eq!(placed[0], dir.path().join("x (1).txt"));
        assert_eq!(fs::read(&placed[0]).unwrap(), b"one");
        assert_eq!(placed[1], dir.path().join("x (2).txt"));
        assert_eq!(fs::read(&placed[1]).unwrap(), b"two");
    }
}
