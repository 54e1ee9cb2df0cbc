//! Which files may travel and be shown as images: decided from the magic
//! bytes, never the name.

/// The image formats that may travel as images and be shown inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
        }
    }
}

/// How many leading bytes [`sniff_image`] needs to decide.
pub const SNIFF_LEN: usize = 12;

/// Decides from the magic bytes (never the name) whether `head`, the start of a
/// file, is one of the inline image types.
pub fn sniff_image(head: &[u8]) -> Option<ImageType> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageType::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageType::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(ImageType::Gif)
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(ImageType::Webp)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some(ImageType::Png));
        assert_eq!(
            sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(sniff_image(b"GIF89a..."), Some(ImageType::Gif));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(sniff_image(b"<svg xmlns="), None);
        assert_eq!(sniff_image(b"\x89PN"), None);
        assert_eq!(sniff_image(b""), None);
    }
}
