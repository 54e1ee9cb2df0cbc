//! Test data: valid images, incompressible bytes, their SHA-256, and ports.

use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// Lower-case hex SHA-256, as the protocol writes it.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Deterministic pseudo-random bytes (not compressible, not all zero).
pub fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// A PNG signature and header chunk followed by `len` bytes of data: passes
/// the server's sniffing (magic bytes), not a decoder.
pub fn png_bytes(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(test_bytes(len, 7));
    bytes
}

/// A real, decodable 1x1 PNG (a browser shows it).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// A listener on 127.0.0.1 with a port below the kernel's ephemeral range
/// (for servers a test restarts on the same address).
pub async fn bind_outside_ephemeral_range() -> TcpListener {
    let seed = std::process::id() as u64
        ^ u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
    for i in 0..200u64 {
        let port = 20_000 + (seed.wrapping_add(i * 7919) % 10_000) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return listener;
        }
    }
    panic!("no free port in 20000..30000");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_images() {
        assert_eq!(protocol::sniff_image(PNG), Some(protocol::ImageType::Png));
        assert_eq!(
            protocol::sniff_image(&png_bytes(10)),
            Some(protocol::ImageType::Png)
        );
        assert_ne!(test_bytes(64, 1), test_bytes(64, 2));
        assert_eq!(sha256(b"").len(), 64);
    }
}
