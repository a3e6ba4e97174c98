//! Data packets on LiveKit's data channels: what we send (user data, chat) and what a received
//! packet means for the room's user. Pure functions over `livekit-protocol` types.

use livekit_protocol as proto;
use proto::data_packet::Value;

use super::events::{ChatMessage, DataMessage, RoomEvent};

/// Where a data packet goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataOptions {
    pub topic: Option<String>,
    /// Ordered and retransmitted (`_reliable`), or best effort (`_lossy`).
    pub reliable: bool,
    /// Identities to send to; empty means everyone.
    pub destinations: Vec<String>,
}

/// The largest payload LiveKit's SDKs put in one packet (the SFU enforces a limit as well).
pub const MAX_PAYLOAD_BYTES: usize = 15 * 1024;

// `kind` and the per-packet destination fields are deprecated upstream but still read by
// servers and SDKs of the 1.x line, so we fill both the old and the new fields.
#[allow(deprecated)]
pub fn user_packet(payload: Vec<u8>, options: &DataOptions) -> proto::DataPacket {
    let kind = if options.reliable {
        proto::data_packet::Kind::Reliable
    } else {
        proto::data_packet::Kind::Lossy
    };
    proto::DataPacket {
        kind: kind as i32,
        destination_identities: options.destinations.clone(),
        value: Some(Value::User(proto::UserPacket {
            payload,
            topic: options.topic.clone(),
            destination_identities: options.destinations.clone(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// What a received user or chat packet means for the user, if anything.
#[allow(deprecated)]
pub fn interpret(packet: proto::DataPacket) -> Option<RoomEvent> {
    let from = non_empty(&packet.participant_identity);
    let private = !packet.destination_identities.is_empty();
    match packet.value {
        Some(Value::User(user)) => Some(RoomEvent::Data(DataMessage {
            from: from.or_else(|| non_empty(&user.participant_identity)),
            topic: user.topic,
            payload: user.payload,
        })),
        Some(Value::ChatMessage(chat)) if !chat.deleted => Some(RoomEvent::Chat(ChatMessage {
            id: chat.id,
            from,
            message: chat.message,
            timestamp: chat.timestamp,
            private,
        })),
        _ => None,
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

pub use crate::signal::unix_millis;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trips_with_topic_and_sender() {
        let options = DataOptions {
            topic: Some("game".into()),
            reliable: true,
            destinations: vec![],
        };
        let mut packet = user_packet(b"move e4".to_vec(), &options);
        packet.participant_identity = "alice".into();
        let event = interpret(packet);
        let Some(RoomEvent::Data(message)) = event else {
            panic!("not data: {event:?}");
        };
        assert_eq!(message.from.as_deref(), Some("alice"));
        assert_eq!(message.topic.as_deref(), Some("game"));
        assert_eq!(message.payload, b"move e4");
    }

    #[test]
    fn legacy_chat_packets_are_chat_and_private_when_addressed() {
        let packet = proto::DataPacket {
            participant_identity: "alice".into(),
            destination_identities: vec!["bob".into()],
            value: Some(Value::ChatMessage(proto::ChatMessage {
                id: "m1".into(),
                message: "psst".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let Some(RoomEvent::Chat(chat)) = interpret(packet) else {
            panic!("not chat");
        };
        assert!(chat.private);
        assert_eq!((chat.id.as_str(), chat.message.as_str()), ("m1", "psst"));
        assert!(interpret(proto::DataPacket::default()).is_none());
    }
}
