//! Unit tests of the codec: round trips, the size cap, malformed frames.

use super::*;
use crate::{EventBody, FileKind, Target};

fn decode_all<M: DeserializeOwned>(codec: &mut Codec<M, ()>, buf: &mut BytesMut) -> Vec<Frame<M>> {
    let mut out = Vec::new();
    while let Some(f) = codec.decode(buf).unwrap() {
        out.push(f);
    }
    out
}

#[test]
fn round_trip_with_payload() {
    let msg = ClientMsg::FileChunk { id: 3 };
    let wire = encode(9, &msg, b"\0\xffraw");
    let mut codec: Codec<ClientMsg, ()> = Codec::new(1024);
    let frames = decode_all(&mut codec, &mut BytesMut::from(&wire.0[..]));
    assert_eq!(
        frames,
        vec![
            Frame::new(msg)
                .with_session(9)
                .with_payload(Bytes::from_static(b"\0\xffraw"))
        ]
    );
}

#[test]
fn too_large_is_refused_before_allocating() {
    let mut codec: Codec<ClientMsg, ()> = Codec::new(100);
    let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::FrameTooLarge { max: 100 })
    ));
}

#[test]
fn the_limit_can_be_raised_on_the_live_codec() {
    let mut codec: Codec<ClientMsg, ()> = Codec::new(100);
    let frame = crate::codec::encode(
        0,
        &ClientMsg::Say {
            text: "x".repeat(200),
        },
        &[],
    );
    codec.set_max_frame(1000);
    assert_eq!(codec.max_frame(), 1000);
    let mut buf = BytesMut::from(&frame.0[..]);
    assert_eq!(decode_all(&mut codec, &mut buf).len(), 1);
    codec.set_max_frame(100);
    let mut buf = BytesMut::from(&frame.0[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::FrameTooLarge { max: 100 })
    ));
}

#[test]
fn malformed_frames_are_errors() {
    let mut codec: Codec<ClientMsg, ()> = Codec::new(100);
    // Body shorter than the session + header length prefix.
    let mut buf = BytesMut::from(&[0, 0, 0, 2, 0, 0][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::Malformed(_))
    ));
    // Header length beyond the body.
    let mut buf = BytesMut::from(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 9][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::Malformed(_))
    ));
    // Not JSON.
    let mut buf = BytesMut::from(&[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, b'{'][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::BadHeader(_))
    ));
}

#[test]
fn server_messages_round_trip() {
    let msg = ServerMsg::Event(crate::Event {
        seq: 1,
        ts: 2,
        event: EventBody::File {
            from: "a".into(),
            to: Target::Room,
            transfer: 5,
            name: "x.bin".into(),
            size: 10,
            sha256: "ab".into(),
            kind: FileKind::File,
        },
    });
    let wire = encode(0, &msg, &[]);
    let mut codec: Codec<ServerMsg, ()> = Codec::new(1024);
    let frames = decode_all(&mut codec, &mut BytesMut::from(&wire.0[..]));
    assert_eq!(frames, vec![Frame::new(msg)]);
}
