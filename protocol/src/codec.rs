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
//!
//! The tests live beside it: `codec/tests.rs` (examples) and
//! `codec/properties.rs` (proptest round trips and never-panic checks).

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

impl<In, Out> Codec<In, Out> {
    /// Changes the limit on incoming frame bodies from the next frame on, on
    /// the live codec: the server reads small frames until a login, then its
    /// full `--max-frame` ([`crate::PRE_LOGIN_MAX_FRAME`]).
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.outer.set_max_frame_length(max_frame);
        self.max_frame = max_frame;
    }

    /// The current limit on incoming frame bodies.
    pub fn max_frame(&self) -> usize {
        self.max_frame
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
mod tests;

#[cfg(test)]
mod properties;
