//! The checks behind each fuzz target, as plain functions: the targets in
//! `fuzz_targets/` are one line each, and `seed-corpora` writes real inputs
//! for them. Every input that ever failed here became a regular test in the
//! crate it was about (see README.md, "Findings").
//!
//! An input's first byte chooses how the rest is cut into pieces
//! ([`pieces`]): bytes from a socket arrive in arbitrary pieces, and the
//! decoders must give the same answer whatever the cut.

use std::{fmt::Debug, io};

use axum::{
    body::Body,
    extract::{FromRequest, Multipart},
    http::{Request, header},
};
use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use protocol::codec::{ClientCodec, Codec, ServerCodec, encode};
use serde::{Serialize, de::DeserializeOwned};
use tokio_util::codec::Decoder;
use web_gateway::browser::FromBrowser;

/// The frame limit the codec target decodes under: small, so inputs reach
/// the "too large" path as easily as the others.
pub const FUZZ_MAX_FRAME: usize = 4096;

/// The boundary of the multipart target's body (in its seeds too).
pub const BOUNDARY: &str = "sbfuzz";

/// Cuts `data[1..]` into pieces whose lengths follow from `data[0]`: 0 means
/// one piece, otherwise lengths cycle through 1..=`data[0]` (a tiny LCG, so
/// they vary).
pub fn pieces(data: &[u8]) -> Vec<&[u8]> {
    let Some((&seed, mut rest)) = data.split_first() else {
        return Vec::new();
    };
    if seed == 0 {
        return vec![rest];
    }
    let mut state = u32::from(seed);
    let mut out = Vec::new();
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = (((state >> 16) % u32::from(seed)) + 1) as usize;
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

/// Native frames, both directions: the decoder returns frames or an error
/// (the connection then ends), never panics; an incomplete buffer is not an
/// error; every decoded frame re-encodes to one that decodes to the same.
pub fn codec(data: &[u8]) {
    let pieces = pieces(data);
    decode_stream(ServerCodec::new(FUZZ_MAX_FRAME), &pieces);
    decode_stream(ClientCodec::new(FUZZ_MAX_FRAME), &pieces);
}

fn decode_stream<In, Out>(mut codec: Codec<In, Out>, pieces: &[&[u8]])
where
    In: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let mut buf = BytesMut::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let again = encode(frame.session, &frame.msg, &frame.payload);
                    let mut wire = BytesMut::from(&again.0[..]);
                    // Re-encoding may lengthen the header (escapes), so the
                    // second decode has no small limit.
                    let decoded = Codec::<In, Out>::new(usize::MAX >> 1)
                        .decode(&mut wire)
                        .expect("a re-encoded frame decodes")
                        .expect("a re-encoded frame is whole");
                    assert_eq!(decoded, frame, "round trip");
                    assert!(wire.is_empty(), "one frame, nothing left over");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = codec.decode_eof(&mut buf);
}

/// A browser's WebSocket text message as `ws.rs` parses it; what parses is
/// what the gateway then frames for the core, which must decode it back.
pub fn ws_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        // WebSocket text messages are UTF-8 by the time the handler sees them.
        return;
    };
    let Ok(msg) = serde_json::from_str::<FromBrowser>(text) else {
        return;
    };
    let to_core = match msg {
        FromBrowser::Users => protocol::ClientMsg::Users,
        FromBrowser::Say { text } => protocol::ClientMsg::Say { text },
        FromBrowser::Private { to, text } => protocol::ClientMsg::Private { to, text },
    };
    let wire = encode(7, &to_core, &[]);
    let frame = ServerCodec::new(usize::MAX >> 1)
        .decode(&mut BytesMut::from(&wire.0[..]))
        .expect("the core decodes what the gateway frames")
        .expect("whole");
    assert_eq!(frame.msg, to_core);
}

/// A `POST /upload` body (boundary [`BOUNDARY`]) in arbitrary pieces, read
/// the way `upload.rs` reads it: axum's `Multipart`, every field's chunks,
/// the file name through `web_gateway::upload::safe_file_name`. Never a
/// panic, and never waiting: the whole body is there, so a parse that
/// waits would hang a real upload until its timeout.
pub fn multipart(data: &[u8]) {
    let chunks: Vec<Result<Bytes, io::Error>> = pieces(data)
        .into_iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    let request = Request::builder()
        .method("POST")
        .uri("/upload")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .expect("a valid request");
    let read = async {
        let Ok(mut form) = Multipart::from_request(request, &()).await else {
            return;
        };
        while let Ok(Some(mut field)) = form.next_field().await {
            let _ = field.name();
            if let Some(raw) = field.file_name() {
                let safe = web_gateway::upload::safe_file_name(raw);
                if !safe.is_empty() {
                    assert_safe_file_name(raw, &safe);
                }
            }
            while let Ok(Some(_chunk)) = field.chunk().await {}
        }
    };
    assert!(
        read.now_or_never().is_some(),
        "reading a body that is all there waited"
    );
}

/// A stranger's file name through `protocol::safe_file_name`.
pub fn file_name(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    assert_safe_file_name(raw, &protocol::safe_file_name(raw));
}

/// Everything `safe_file_name` promises about its result, and that cleaning
/// a clean name changes nothing.
pub fn assert_safe_file_name(raw: &str, safe: &str) {
    let why = |what: &str| format!("{what}: {raw:?} -> {safe:?}");
    assert!(!safe.is_empty(), "{}", why("empty"));
    assert!(safe.len() <= protocol::MAX_FILE_NAME, "{}", why("too long"));
    assert!(!safe.contains(['/', '\\']), "{}", why("a separator"));
    assert!(!safe.contains(".."), "{}", why("`..`"));
    assert!(
        !safe.starts_with(['.', ' ']),
        "{}",
        why("leading dot or space")
    );
    assert!(
        !safe.ends_with(['.', ' ']),
        "{}",
        why("trailing dot or space")
    );
    assert!(
        !safe
            .chars()
            .any(|c| c.is_control() || protocol::is_invisible_format(c)),
        "{}",
        why("a control or format character")
    );
    assert_eq!(
        protocol::safe_file_name(safe),
        safe,
        "{}",
        why("not idempotent")
    );
}
