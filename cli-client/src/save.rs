//! Saving a received file in the download directory under a name that does
//! not exist yet, never replacing anything.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

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
