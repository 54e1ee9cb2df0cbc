//! Helpers for the file tests (`files`, `images`, `file_flow`): a quiet room
//! to start from, and the sender's view of how a transfer went.

use protocol::{ErrorCode, EventBody, ServerMsg};
use testkit::{RawClient, TestCore};

/// The sender's notices about transfer `id` until `n` recipients are settled:
/// (recipient, Ok(()) for delivered or Err(code)).
pub async fn outcomes(
    sender: &mut RawClient,
    id: u32,
    n: usize,
) -> Vec<(String, Result<(), ErrorCode>)> {
    let mut out = Vec::new();
    while out.len() < n {
        let outcome = sender
            .until(|f| match &f.msg {
                ServerMsg::FileDelivered { id: i, to } if *i == id => Some((to.clone(), Ok(()))),
                ServerMsg::FileFailed {
                    id: i,
                    to: Some(to),
                    code,
                    ..
                } if *i == id => Some((to.clone(), Err(*code))),
                ServerMsg::FileFailed {
                    id: i,
                    to: None,
                    code,
                    ..
                } if *i == id => {
                    panic!("whole transfer failed: {code:?}")
                }
                _ => None,
            })
            .await;
        out.push(outcome);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The sender's `file_accepted` for `id`: (transfer, recipients).
pub async fn accepted(sender: &mut RawClient, id: u32) -> (u64, Vec<String>) {
    sender
        .until(|f| match &f.msg {
            ServerMsg::FileAccepted {
                id: i,
                transfer,
                recipients,
            } if *i == id => Some((*transfer, recipients.clone())),
            _ => None,
        })
        .await
}

/// The sender's `file_failed` without `to` for `id`.
pub async fn whole_failure(sender: &mut RawClient, id: u32) -> ErrorCode {
    sender
        .until(|f| match &f.msg {
            ServerMsg::FileFailed {
                id: i,
                to: None,
                code,
                ..
            } if *i == id => Some(*code),
            ServerMsg::FileDelivered { id: i, .. } if *i == id => panic!("delivered"),
            _ => None,
        })
        .await
}

pub async fn room_of(server: &TestCore, names: &[&str]) -> Vec<RawClient> {
    let mut clients = Vec::new();
    for name in names {
        let client = server.join(name).await;
        clients.push(client);
    }
    // Drain the join announcements so each test starts from a quiet room.
    for (i, client) in clients.iter_mut().enumerate() {
        for _ in i + 1..names.len() {
            assert!(matches!(client.event().await, EventBody::Joined { .. }));
        }
    }
    clients
}
