//! Bytes <-> frames: the only place in Switchboard that frames bytes.
//!
//! On the wire every frame is
//!
//! ```text
//! length:u32be | session:u32be | header_len:u32be | header (JSON) | payload
//! ```
//!
//! where `length` counts everything after itself. The length is checked against
//! the limit before anything is allocated (tokio-util's `LengthDelimitedCodec`
//! does the outer framing); an incomplete buffer is a normal state, not an error.

use std::{io, marker::PhantomData};

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Serialize, de::DeserializeOwned};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, length_delimited};

use crate::{ClientMsg, ErrorCode, LINK_SESSION, ServerMsg, SessionId};

/// Bytes before the JSON header inside a frame body: session and header length.
const BODY_PREFIX: usize = 8;
/// Bytes of the outer length prefix.
const LENGTH_PREFIX: usize = 4;

/// Default limit on a frame body a server accepts from a client.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;
/// Default limit on a frame body a client accepts from a server (the welcome
/// and user list grow with the room, so this is larger).
pub const DEFAULT_CLIENT_MAX_FRAME: usize = 64 * 1024 * 1024;

/// One decoded frame: who it is about, the message, and the raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<M> {
    /// The gateway session this frame belongs to; [`LINK_SESSION`] otherwise.
    pub session: SessionId,
    /// The decoded JSON header.
    pub msg: M,
    /// Raw bytes after the header; non-empty only for file chunks.
    pub payload: Bytes,
}

impl<M> Frame<M> {
    /// A frame about the connection itself, with no payload.
    pub fn new(msg: M) -> Self {
        Frame {
            session: LINK_SESSION,
            msg,
            payload: Bytes::new(),
        }
    }

    pub fn with_session(mut self, session: SessionId) -> Self {
        self.session = session;
        self
    }

    pub fn with_payload(mut self, payload: Bytes) -> Self {
        self.payload = payload;
        self
    }
}

/// A frame already in its wire form, length prefix included. Encode once with
/// [`encode`], then hand clones (which share the bytes) to every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(pub Bytes);

impl Encoded {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("frame exceeds the limit of {max} bytes")]
    FrameTooLarge { max: usize },
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    #[error("undecodable frame header: {0}")]
    BadHeader(#[from] serde_json::Error),
    #[error(transparent)]
    Io(io::Error),
}

impl CodecError {
    /// The protocol error code to tell the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            CodecError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            _ => ErrorCode::BadFrame,
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        CodecError::Io(e)
    }
}

/// Decodes frames of `In` and encodes frames of `Out`.
#[derive(Debug)]
pub struct Codec<In, Out> {
    /// The outer length-prefixed framing, which enforces the size limit.
    outer: LengthDelimitedCodec,
    /// The limit, kept to report it in errors.
    max_frame: usize,
    /// Which message types this side reads and writes.
    _msgs: PhantomData<fn(Out) -> In>,
}

/// What the server uses on each connection.
pub type ServerCodec = Codec<ClientMsg, ServerMsg>;
/// What clients (the terminal client, the gateway) use.
pub type ClientCodec = Codec<ServerMsg, ClientMsg>;

impl<In, Out> Codec<In, Out> {
    /// A codec that refuses incoming frame bodies longer than `max_frame`.
    pub fn new(max_frame: usize) -> Self {
        let outer = length_delimited::Builder::new()
            .length_field_type::<u32>()
            .max_frame_length(max_frame)
            .new_codec();
        Codec {
            outer,
            max_frame,
            _msgs: PhantomData,
        }
    }
}

impl ServerCodec {
    pub fn server() -> Self {
        Codec::new(DEFAULT_MAX_FRAME)
    }
}

impl ClientCodec {
    pub fn client() -> Self {
        Codec::new(DEFAULT_CLIENT_MAX_FRAME)
    }
}

impl<In: DeserializeOwned, Out> Decoder for Codec<In, Out> {
    type Item = Frame<In>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame<In>>, CodecError> {
        let body = match self.outer.decode(src) {
            Ok(Some(body)) => body,
            Ok(None) => return Ok(None),
            Err(e)
                if e.get_ref().is_some_and(|inner| {
                    inner.is::<length_delimited::LengthDelimitedCodecError>()
                }) =>
            {
                return Err(CodecError::FrameTooLarge {
                    max: self.max_frame,
                });
            }
            Err(e) => return Err(CodecError::Io(e)),
        };
        parse_body(body.freeze()).map(Some)
    }
}

/// Splits a frame body into session, header and payload, and parses the header.
fn parse_body<M: DeserializeOwned>(mut body: Bytes) -> Result<Frame<M>, CodecError> {
    if body.len() < BODY_PREFIX {
        return Err(CodecError::Malformed("frame shorter than its prefix"));
    }
    let session = u32::from_be_bytes(body[0..4].try_into().expect("4 bytes"));
    let header_len = u32::from_be_bytes(body[4..8].try_into().expect("4 bytes")) as usize;
    if header_len > body.len() - BODY_PREFIX {
        return Err(CodecError::Malformed("header length beyond the frame"));
    }
    let _ = body.split_to(BODY_PREFIX);
    let header = body.split_to(header_len);
    let msg = serde_json::from_slice(&header)?;
    Ok(Frame {
        session,
        msg,
        payload: body,
    })
}

impl<In, Out: Serialize> Encoder<Frame<Out>> for Codec<In, Out> {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame<Out>, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_into(frame.session, &frame.msg, &frame.payload, dst)
    }
}

impl<In, Out> Encoder<Encoded> for Codec<In, Out> {
    type Error = CodecError;

    fn encode(&mut self, frame: Encoded, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.extend_from_slice(&frame.0);
        Ok(())
    }
}

/// Encodes one frame into its wire form, ready to be written to any number of
/// connections.
pub fn encode<M: Serialize>(session: SessionId, msg: &M, payload: &[u8]) -> Encoded {
    let mut buf = BytesMut::with_capacity(LENGTH_PREFIX + BODY_PREFIX + 128 + payload.len());
    encode_into(session, msg, payload, &mut buf).expect("protocol messages always serialise");
    Encoded(buf.freeze())
}

fn encode_into<M: Serialize>(
    session: SessionId,
    msg: &M,
    payload: &[u8],
    dst: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = dst.len();
    dst.put_u32(0); // length, patched below
    dst.put_u32(session);
    dst.put_u32(0); // header length, patched below
    let header_start = dst.len();
    serde_json::to_writer(dst.writer(), msg)?;
    let header_len = dst.len() - header_start;
    dst.extend_from_slice(payload);
    let body_len = dst.len() - start - LENGTH_PREFIX;
    let (Ok(body_len), Ok(header_len)) = (u32::try_from(body_len), u32::try_from(header_len))
    else {
        dst.truncate(start);
        return Err(CodecError::Malformed("frame longer than 4 GiB"));
    };
    dst[start..start + 4].copy_from_slice(&body_len.to_be_bytes());
    dst[start + 8..start + 12].copy_from_slice(&header_len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventBody, FileKind, Target};

    fn decode_all<M: DeserializeOwned>(
        codec: &mut Codec<M, ()>,
        buf: &mut BytesMut,
    ) -> Vec<Frame<M>> {
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
}

#[cfg(test)]
mod properties {
    //! Round trips of arbitrary messages, and arbitrary bytes fed in arbitrary
    //! pieces: the decoder returns frames or errors, never panics.

    use super::*;
    use crate::{ClientKind, ErrorCode, Event, EventBody, FileKind, Limits, Target, UserInfo};
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![".{0,40}", "[a-z_-]{1,32}", Just(String::new())]
    }

    fn target() -> impl Strategy<Value = Target> {
        prop_oneof![Just(Target::Room), text().prop_map(Target::User)]
    }

    fn file_kind() -> impl Strategy<Value = FileKind> {
        prop_oneof![Just(FileKind::File), Just(FileKind::Image)]
    }

    fn code() -> impl Strategy<Value = ErrorCode> {
        prop::sample::select(vec![
            ErrorCode::BadFrame,
            ErrorCode::NameTaken,
            ErrorCode::RateLimited,
            ErrorCode::SlowConsumer,
            ErrorCode::ChecksumMismatch,
            ErrorCode::RecipientLeft,
        ])
    }

    fn client_msg() -> impl Strategy<Value = ClientMsg> {
        prop_oneof![
            (any::<u32>(), text(), proptest::option::of(text())).prop_map(
                |(protocol, client, gateway_token)| ClientMsg::Hello {
                    protocol,
                    client,
                    gateway_token
                }
            ),
            (text(), proptest::option::of(any::<u64>()))
                .prop_map(|(name, since)| ClientMsg::Join { name, since }),
            text().prop_map(|text| ClientMsg::Say { text }),
            (text(), text()).prop_map(|(to, text)| ClientMsg::Private { to, text }),
            Just(ClientMsg::Users),
            (
                any::<u32>(),
                target(),
                text(),
                any::<u64>(),
                text(),
                file_kind()
            )
                .prop_map(|(id, to, name, size, sha256, kind)| ClientMsg::FileOffer {
                    id,
                    to,
                    name,
                    size,
                    sha256,
                    kind
                }),
            any::<u32>().prop_map(|id| ClientMsg::FileChunk { id }),
            any::<u32>().prop_map(|id| ClientMsg::FileEnd { id }),
            any::<u32>().prop_map(|id| ClientMsg::FileCancel { id }),
            any::<u64>().prop_map(|nonce| ClientMsg::Ping { nonce }),
            any::<u64>().prop_map(|nonce| ClientMsg::Pong { nonce }),
            Just(ClientMsg::Quit),
        ]
    }

    fn event_body() -> impl Strategy<Value = EventBody> {
        prop_oneof![
            (text(), text()).prop_map(|(from, text)| EventBody::Message { from, text }),
            (text(), text(), text()).prop_map(|(from, to, text)| EventBody::Private {
                from,
                to,
                text
            }),
            (text(), any::<bool>()).prop_map(|(name, web)| EventBody::Joined {
                user: UserInfo {
                    name,
                    kind: if web {
                        ClientKind::Web
                    } else {
                        ClientKind::Terminal
                    }
                }
            }),
            text().prop_map(|name| EventBody::Left { name }),
            (
                text(),
                target(),
                any::<u64>(),
                text(),
                any::<u64>(),
                file_kind()
            )
                .prop_map(|(from, to, transfer, name, size, kind)| EventBody::File {
                    from,
                    to,
                    transfer,
                    name,
                    size,
                    sha256: "ab".repeat(32),
                    kind
                }),
        ]
    }

    fn server_msg() -> impl Strategy<Value = ServerMsg> {
        let event = || {
            (any::<u64>(), any::<u64>(), event_body()).prop_map(|(seq, ts, event)| Event {
                seq,
                ts,
                event,
            })
        };
        prop_oneof![
            (text(), any::<bool>(), any::<u32>(), any::<u64>()).prop_map(
                |(instance, gateway, n, big)| ServerMsg::Hello {
                    protocol: n,
                    server: "switchboard".into(),
                    instance,
                    gateway,
                    limits: Limits {
                        max_frame: n,
                        max_message: n,
                        max_file: big,
                        rate_per_sec: n,
                        rate_burst: n
                    }
                }
            ),
            (
                text(),
                proptest::collection::vec(event(), 0..4),
                any::<u64>()
            )
                .prop_map(|(name, history, last_seq)| ServerMsg::Welcome {
                    name,
                    users: vec![],
                    history,
                    last_seq
                }),
            event().prop_map(ServerMsg::Event),
            any::<u64>().prop_map(|transfer| ServerMsg::FileChunk { transfer }),
            any::<u64>().prop_map(|transfer| ServerMsg::FileEnd { transfer }),
            (any::<u64>(), code(), text()).prop_map(|(transfer, code, message)| {
                ServerMsg::FileAbort {
                    transfer,
                    code,
                    message,
                }
            }),
            (
                any::<u32>(),
                any::<u64>(),
                proptest::collection::vec(text(), 0..3)
            )
                .prop_map(|(id, transfer, recipients)| ServerMsg::FileAccepted {
                    id,
                    transfer,
                    recipients
                }),
            (any::<u32>(), proptest::option::of(text()), code(), text()).prop_map(
                |(id, to, code, message)| ServerMsg::FileFailed {
                    id,
                    to,
                    code,
                    message
                }
            ),
            (code(), text()).prop_map(|(code, message)| ServerMsg::Bye { code, message }),
        ]
    }

    /// Feeds `wire` to a decoder in pieces cut at `cuts`, collecting frames.
    fn decode_in_pieces<M: DeserializeOwned>(
        codec: &mut Codec<M, ()>,
        wire: &[u8],
        cuts: &[usize],
    ) -> Result<Vec<Frame<M>>, CodecError> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let (mut buf, mut frames, mut at) = (BytesMut::new(), Vec::new(), 0);
        for point in points {
            buf.extend_from_slice(&wire[at..point]);
            at = point;
            while let Some(frame) = codec.decode(&mut buf)? {
                frames.push(frame);
            }
        }
        Ok(frames)
    }

    proptest! {
        #[test]
        fn client_frames_round_trip(
            msgs in proptest::collection::vec((any::<u32>(), client_msg(), proptest::collection::vec(any::<u8>(), 0..200)), 1..5),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let mut wire = Vec::new();
            for (session, msg, payload) in &msgs {
                wire.extend_from_slice(&encode(*session, msg, payload).0);
            }
            let mut codec: Codec<ClientMsg, ()> = Codec::new(DEFAULT_MAX_FRAME);
            let frames = decode_in_pieces(&mut codec, &wire, &cuts).unwrap();
            let expected: Vec<_> = msgs
                .into_iter()
                .map(|(session, msg, payload)| Frame::new(msg).with_session(session).with_payload(Bytes::from(payload)))
                .collect();
            prop_assert_eq!(frames, expected);
        }

        #[test]
        fn server_frames_round_trip(
            session in any::<u32>(),
            msg in server_msg(),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let wire = encode(session, &msg, &payload);
            let mut codec: Codec<ServerMsg, ()> = Codec::new(DEFAULT_CLIENT_MAX_FRAME);
            let frames = decode_in_pieces(&mut codec, &wire.0, &cuts).unwrap();
            prop_assert_eq!(frames, vec![Frame::new(msg).with_session(session).with_payload(Bytes::from(payload))]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(any::<usize>(), 0..16),
        ) {
            let mut codec: Codec<ClientMsg, ()> = Codec::new(1024);
            let _ = decode_in_pieces(&mut codec, &bytes, &cuts);
            let mut codec: Codec<ServerMsg, ()> = Codec::new(1024);
            let _ = decode_in_pieces(&mut codec, &bytes, &cuts);
        }

        #[test]
        fn valid_prefix_with_arbitrary_body_never_panics(
            session in any::<u32>(),
            header_len in 0u32..64,
            body in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            // Well-formed outer framing around garbage exercises the inner parser.
            let mut wire = Vec::new();
            wire.extend_from_slice(&(8 + body.len() as u32).to_be_bytes());
            wire.extend_from_slice(&session.to_be_bytes());
            wire.extend_from_slice(&header_len.to_be_bytes());
            wire.extend_from_slice(&body);
            let mut codec: Codec<ClientMsg, ()> = Codec::new(1024);
            let _ = decode_in_pieces(&mut codec, &wire, &cuts);
        }
    }
}
