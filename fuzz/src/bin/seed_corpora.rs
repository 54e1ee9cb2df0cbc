//! Writes the seed corpora (`fuzz/seeds/<target>/`) from real traffic: the
//! frames a terminal client and the core exchange, the JSON a browser sends,
//! the form the chat page posts, file names people use. `scripts/fuzz.sh`
//! runs it before fuzzing; the seeds are not committed.

use std::{fs, path::Path};

use protocol::{ClientMsg, FileKind, Target, codec::encode};
use serde_json::{Value, json};
use switchboard_fuzz::BOUNDARY;

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".to_string());
    let root = Path::new(&root);
    write(root, "codec", codec_seeds());
    write(root, "ws_json", ws_json_seeds());
    write(root, "multipart", multipart_seeds());
    write(root, "file_name", file_name_seeds());
}

fn write(root: &Path, target: &str, seeds: Vec<Vec<u8>>) {
    let dir = root.join(target);
    fs::create_dir_all(&dir).expect("create the seed dir");
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:03}")), seed).expect("write a seed");
    }
    println!("{target}: {} seeds in {}", seeds.len(), dir.display());
}

/// A conversation each way, in whole and in small pieces (the first byte).
fn codec_seeds() -> Vec<Vec<u8>> {
    let client = [
        ClientMsg::Hello {
            protocol: 1,
            client: "switchboard-cli/0.1".into(),
            gateway_token: None,
        },
        ClientMsg::Join {
            name: "alice".into(),
            since: Some(41),
            addr: None,
        },
        ClientMsg::Say {
            text: "hi \u{1b}[31m invoice\u{202e}gnp.exe".into(),
        },
        ClientMsg::Private {
            to: "bob".into(),
            text: "psst".into(),
        },
        ClientMsg::Users,
        ClientMsg::FileOffer {
            id: 1,
            to: Target::User("bob".into()),
            name: "cat.png".into(),
            size: 8,
            sha256: "ab".repeat(32),
            kind: FileKind::Image,
        },
        ClientMsg::FileEnd { id: 1 },
        ClientMsg::FileCancel { id: 2 },
        ClientMsg::Ping { nonce: 7 },
        ClientMsg::Pong { nonce: 8 },
        ClientMsg::Quit,
    ];
    let mut client_wire: Vec<u8> = Vec::new();
    for (i, msg) in client.iter().enumerate() {
        client_wire.extend_from_slice(&encode(i as u32 % 3, msg, &[]).0);
    }
    client_wire
        .extend_from_slice(&encode(0, &ClientMsg::FileChunk { id: 1 }, b"\x89PNG\r\n\x1a\n").0);
    let server: Vec<Value> = vec![
        json!({"type":"welcome","name":"alice","users":[{"name":"bob","kind":"terminal"}],
               "history":[{"seq":41,"ts":1764700000000u64,"event":{"type":"message","from":"bob","text":"hi"}}],
               "last_seq":41}),
        json!({"type":"event","seq":42,"ts":1764700000123u64,"event":{"type":"message","from":"alice","text":"hi"}}),
        json!({"type":"event","seq":43,"ts":1u64,"event":{"type":"joined","user":{"name":"carol","kind":"web"}}}),
        json!({"type":"event","seq":44,"ts":1u64,"event":{"type":"left","name":"carol"}}),
        json!({"type":"event","seq":45,"ts":1u64,"event":{"type":"private","from":"alice","to":"bob","text":"hi"}}),
        json!({"type":"event","seq":46,"ts":1u64,"event":{"type":"file","from":"alice","to":"room","transfer":77,
               "name":"cat.png","size":1234,"sha256":"ab".repeat(32),"kind":"image"}}),
        json!({"type":"file_accepted","id":1,"transfer":77,"recipients":["bob"]}),
        json!({"type":"file_end","transfer":77}),
        json!({"type":"file_abort","transfer":77,"code":"checksum_mismatch","message":"x"}),
        json!({"type":"file_delivered","id":1,"to":"bob"}),
        json!({"type":"file_failed","id":1,"to":"bob","code":"recipient_left","message":"gone"}),
        json!({"type":"users","users":[{"name":"alice","kind":"web"}]}),
        json!({"type":"error","code":"rate_limited","message":"slow down"}),
        json!({"type":"ping","nonce":1}),
        json!({"type":"pong","nonce":2}),
        json!({"type":"bye","code":"shutting_down","message":"bye"}),
    ];
    let mut server_wire: Vec<u8> = Vec::new();
    for msg in &server {
        server_wire.extend_from_slice(&encode(0, msg, &[]).0);
    }
    server_wire.extend_from_slice(
        &encode(
            3,
            &json!({"type":"file_chunk","transfer":77}),
            b"0123456789",
        )
        .0,
    );
    let mut seeds = Vec::new();
    for wire in [&client_wire, &server_wire] {
        for cut in [0u8, 1, 5, 64] {
            let mut seed = vec![cut];
            seed.extend_from_slice(wire);
            seeds.push(seed);
        }
    }
    // Too large, and short.
    seeds.push([&[0u8][..], &[0, 1, 0, 0], &[0; 16]].concat());
    seeds.push(vec![0, 0, 0, 0, 4, 0, 0, 0, 0]);
    seeds
}

fn ws_json_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"type":"say","text":"hi"}"#,
        r#"{"type":"private","to":"bob","text":"psst"}"#,
        r#"{"type":"users"}"#,
        r#"{"type":"say","text":"invoice\u202egnp.exe \u0085"}"#,
        r#"{"type":"say","text":"x","extra":1}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// The chat page's upload form (csrf, to, file), whole and in pieces.
fn multipart_seeds() -> Vec<Vec<u8>> {
    let form = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntoken123\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nbob\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cat.png\"\r\n\
         Content-Type: image/png\r\n\r\n\u{89}PNG data\r\n--{b}--\r\n",
        b = BOUNDARY
    );
    let odd_name = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''invoice%E2%80%AEgnp.exe\r\n\r\nx\r\n--{b}--\r\n",
        b = BOUNDARY
    );
    let mut seeds = Vec::new();
    for body in [&form, &odd_name] {
        for cut in [0u8, 3, 40] {
            let mut seed = vec![cut];
            seed.extend_from_slice(body.as_bytes());
            seeds.push(seed);
        }
    }
    seeds
}

fn file_name_seeds() -> Vec<Vec<u8>> {
    let long = format!("{} b.png", "a".repeat(196));
    [
        "cat.png",
        "../../etc/passwd",
        "C:\\Users\\me\\report v2.pdf",
        "invoice\u{202e}gnp.exe",
        " . hidden..txt",
        long.as_str(),
        "ünïcødé 猫.png",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}
