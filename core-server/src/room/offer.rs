//! File offers: picking a file's recipients (one copy per recipient, or per
//! gateway link for a room-wide file), numbering the transfer and announcing
//! its `file` event, all under the room's lock so the event keeps seq order.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use protocol::{ErrorCode, EventBody, FileKind, LINK_SESSION, ServerMsg, Target, codec::encode};

use super::{LinkId, Refusal, Room, no_such_user};
use crate::transfer::{RecipientCopy, Relay};

/// What a file offer announces to its recipients.
#[derive(Debug, Clone)]
pub struct Offer {
    pub to: Target,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub kind: FileKind,
}

impl Room {
    /// Opens transfer `id` from `from`: picks the recipients, registers the
    /// transfer's [`Relay`] (with a credit `window`), announces the `file`
    /// event to them, and returns the server-side transfer id, the recipients'
    /// names and the relay. A room-wide file goes once to each link with
    /// another member.
    pub fn offer_file(
        &self,
        from: &str,
        id: u32,
        window: u64,
        offer: &Offer,
    ) -> Result<(u64, Vec<String>, Relay), Refusal> {
        let mut state = self.lock();
        let Some(sender) = state.members.get(&from.to_ascii_lowercase()).cloned() else {
            return Err((ErrorCode::NotJoined, "join first".into()));
        };
        let copies: Vec<RecipientCopy> = match &offer.to {
            Target::User(to) => {
                let Some(r) = state.members.get(&to.to_ascii_lowercase()) else {
                    return Err(no_such_user(to));
                };
                let outbox = state.links[&r.link].outbox.clone();
                vec![RecipientCopy {
                    outbox,
                    session: r.session,
                    names: vec![(r.name.clone(), r.left.clone())],
                }]
            }
            Target::Room => {
                let mut by_link: HashMap<LinkId, Vec<(String, CancellationToken)>> = HashMap::new();
                for m in state.members.values() {
                    if m.link == sender.link && m.session == sender.session {
                        continue;
                    }
                    by_link
                        .entry(m.link)
                        .or_default()
                        .push((m.name.clone(), m.left.clone()));
                }
                by_link
                    .into_iter()
                    .map(|(link, names)| RecipientCopy {
                        outbox: state.links[&link].outbox.clone(),
                        session: LINK_SESSION,
                        names,
                    })
                    .collect()
            }
        };
        if copies.is_empty() {
            return Err((ErrorCode::NoSuchUser, "nobody else is in the room".into()));
        }
        state.last_transfer += 1;
        let transfer = state.last_transfer;
        let recipients = copies
            .iter()
            .flat_map(|c| c.names.iter().map(|(n, _)| n.clone()))
            .collect();
        let event = state.next_event(EventBody::File {
            from: sender.name.clone(),
            to: match &offer.to {
                Target::Room => Target::Room,
                Target::User(_) => Target::User(copies[0].names[0].0.clone()),
            },
            transfer,
            name: offer.name.clone(),
            size: offer.size,
            sha256: offer.sha256.clone(),
            kind: offer.kind,
        });
        let frame = encode(LINK_SESSION, &ServerMsg::Event(event.clone()), &[]);
        for copy in &copies {
            if copy.session == LINK_SESSION {
                copy.outbox.send(frame.clone());
            } else {
                copy.outbox
                    .send_msg(copy.session, &ServerMsg::Event(event.clone()));
            }
        }
        let sender_outbox = state.links[&sender.link].outbox.clone();
        let relay = Relay::new(transfer, id, sender.session, sender_outbox, window, copies);
        state.relays.retain(|_, r| !r.is_done());
        state.relays.insert(transfer, relay.clone());
        Ok((transfer, recipients, relay))
    }

    /// The relay of a transfer in flight, for a recipient's credit.
    pub fn relay(&self, transfer: u64) -> Option<Relay> {
        self.lock().relays.get(&transfer).cloned()
    }

    /// After members left: every transfer drops its copies for them (telling
    /// their senders), so nobody waits for credit from someone gone.
    pub fn prune_relays(&self) {
        let relays: Vec<Relay> = self.lock().relays.values().cloned().collect();
        for relay in relays {
            relay.prune_left();
        }
    }
}
