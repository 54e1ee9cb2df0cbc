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
        (text(), proptest::option::of(any::<u64>())).prop_map(|(name, since)| ClientMsg::Join {
            name,
            since,
            addr: None,
        }),
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
        (any::<u64>(), any::<u64>())
            .prop_map(|(transfer, bytes)| ClientMsg::FileCredit { transfer, bytes }),
        any::<u64>().prop_map(|nonce| ClientMsg::Ping { nonce }),
        any::<u64>().prop_map(|nonce| ClientMsg::Pong { nonce }),
        Just(ClientMsg::Quit),
    ]
}

fn event_body() -> impl Strategy<Value = EventBody> {
    prop_oneof![
        (text(), text()).prop_map(|(from, text)| EventBody::Message { from, text }),
        (text(), text(), text()).prop_map(|(from, to, text)| EventBody::Private { from, to, text }),
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
                    rate_burst: n,
                    file_window: big,
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
        (any::<u32>(), any::<u64>()).prop_map(|(id, bytes)| ServerMsg::FileCredit { id, bytes }),
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
