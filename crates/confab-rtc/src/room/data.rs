//! Data packets on LiveKit's data channels: what we send (user data, chat) and what a received
//! packet means for the room's user. Pure functions over `livekit-protocol` types.

use std::time::{SystemTime, UNIX_EPOCH};

use livekit_protocol as proto;
use prost::Message as _;
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

/// A chat message as LiveKit's components send it (`ChatMessage` packet).
#[allow(deprecated)]
pub fn chat_packet(id: String, message: &str, destinations: &[String]) -> proto::DataPacket {
    proto::DataPacket {
        kind: proto::data_packet::Kind::Reliable as i32,
        destination_identities: destinations.to_vec(),
        value: Some(Value::ChatMessage(proto::ChatMessage {
            id,
            timestamp: unix_millis(),
            message: message.to_owned(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// What a received packet means for the user, if anything. Garbage is `Err` (logged, dropped).
#[allow(deprecated)]
pub fn interpret(bytes: &[u8]) -> Result<Option<RoomEvent>, prost::DecodeError> {
    let packet = proto::DataPacket::decode(bytes)?;
    let from = non_empty(&packet.participant_identity);
    let private = !packet.destination_identities.is_empty();
    Ok(match packet.value {
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
    })
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

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
        let event = interpret(&packet.encode_to_vec()).expect("decodes");
        let Some(RoomEvent::Data(message)) = event else {
            panic!("not data: {event:?}");
        };
        assert_eq!(message.from.as_deref(), Some("alice"));
        assert_eq!(message.topic.as_deref(), Some("game"));
        assert_eq!(message.payload, b"move e4");
    }

    #[test]
    fn chat_is_private_when_addressed_and_garbage_is_an_error() {
        let packet = chat_packet("m1".into(), "psst", &["bob".into()]);
        let Ok(Some(RoomEvent::Chat(chat))) = interpret(&packet.encode_to_vec()) else {
            panic!("not chat");
        };
        assert!(chat.private);
        assert_eq!((chat.id.as_str(), chat.message.as_str()), ("m1", "psst"));
        assert!(interpret(&[0xff, 0xff, 0xff]).is_err());
        assert!(matches!(interpret(&[]), Ok(None)));
    }
}
