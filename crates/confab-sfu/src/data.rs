//! The rules for data packets between participants: who may send, what the server stamps on a
//! packet (the sender's identity is never taken from the client), and who receives it.

use livekit_protocol as proto;
use prost::Message as _;
use proto::data_packet::Value;

/// Data channel labels LiveKit clients and servers use.
pub const RELIABLE_LABEL: &str = "_reliable";
pub const LOSSY_LABEL: &str = "_lossy";

/// The data channel a packet arrived on (or is sent on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Reliable,
    Lossy,
}

impl Lane {
    pub fn from_label(label: &str) -> Option<Self> {
        match label {
            RELIABLE_LABEL => Some(Self::Reliable),
            LOSSY_LABEL => Some(Self::Lossy),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Reliable => RELIABLE_LABEL,
            Self::Lossy => LOSSY_LABEL,
        }
    }

    fn kind(self) -> proto::data_packet::Kind {
        match self {
            Self::Reliable => proto::data_packet::Kind::Reliable,
            Self::Lossy => proto::data_packet::Kind::Lossy,
        }
    }
}

/// Who sent a packet, as the server knows it.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    pub sid: &'a str,
    pub identity: &'a str,
    pub hidden: bool,
    pub can_publish_data: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DataRejection {
    #[error("the sender may not publish data")]
    NotAllowed,
    #[error("not a data packet: {0}")]
    Malformed(String),
    #[error("reliable sequence {sequence} already seen (last {last})")]
    Duplicate { sequence: u32, last: u32 },
    #[error("{0} packets are not forwarded")]
    NotForwarded(&'static str),
}

/// A packet ready for its receivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The re-encoded packet, the same bytes for every receiver.
    pub bytes: Vec<u8>,
    pub lane: Lane,
    /// Receivers by identity; empty means everyone in the room but the sender.
    pub destinations: Vec<String>,
}

/// Checks and stamps one packet from a participant. `last_sequence` is the last reliable
/// sequence seen from this sender and is advanced.
// The deprecated `kind` and `UserPacket` addressing fields are still read by older SDKs.
#[allow(deprecated)]
pub fn admit(
    bytes: &[u8],
    sender: &Sender<'_>,
    lane: Lane,
    last_sequence: &mut u32,
) -> Result<Routed, DataRejection> {
    if !sender.can_publish_data {
        return Err(DataRejection::NotAllowed);
    }
    let mut packet =
        proto::DataPacket::decode(bytes).map_err(|e| DataRejection::Malformed(e.to_string()))?;
    if lane == Lane::Reliable && packet.sequence > 0 {
        if packet.sequence <= *last_sequence {
            return Err(DataRejection::Duplicate {
                sequence: packet.sequence,
                last: *last_sequence,
            });
        }
        *last_sequence = packet.sequence;
    }
    if matches!(packet.value, Some(Value::Metrics(_))) {
        return Err(DataRejection::NotForwarded("metrics"));
    }
    let identity = if sender.hidden { "" } else { sender.identity };
    packet.kind = lane.kind() as i32;
    packet.participant_sid = sender.sid.to_owned();
    packet.participant_identity = identity.to_owned();
    if let Some(Value::User(user)) = &mut packet.value {
        user.participant_sid = sender.sid.to_owned();
        user.participant_identity = identity.to_owned();
        // Old clients address the user packet, new ones the envelope: keep both in step.
        if packet.destination_identities.is_empty() {
            packet
                .destination_identities
                .clone_from(&user.destination_identities);
        } else {
            user.destination_identities
                .clone_from(&packet.destination_identities);
        }
    }
    Ok(Routed {
        bytes: packet.encode_to_vec(),
        lane,
        destinations: packet.destination_identities,
    })
}

/// A packet the server itself sends (RoomService `SendData`): no sender identity.
#[allow(deprecated)]
pub fn from_server(request: &proto::SendDataRequest) -> Routed {
    let lane = if request.kind == proto::data_packet::Kind::Lossy as i32 {
        Lane::Lossy
    } else {
        Lane::Reliable
    };
    let packet = proto::DataPacket {
        kind: lane.kind() as i32,
        destination_identities: request.destination_identities.clone(),
        value: Some(Value::User(proto::UserPacket {
            payload: request.data.clone(),
            destination_identities: request.destination_identities.clone(),
            topic: request.topic.clone(),
            nonce: request.nonce.clone(),
            ..Default::default()
        })),
        ..Default::default()
    };
    Routed {
        bytes: packet.encode_to_vec(),
        lane,
        destinations: request.destination_identities.clone(),
    }
}

/// Whether the participant `identity` receives a packet for `destinations`.
pub fn is_addressed_to(destinations: &[String], identity: &str) -> bool {
    destinations.is_empty() || destinations.iter().any(|d| d == identity)
}

#[cfg(test)]
// The tests check the deprecated fields older SDKs read.
#[allow(deprecated)]
mod tests {
    use super::*;

    fn sender() -> Sender<'static> {
        Sender {
            sid: "PA_real",
            identity: "ada",
            hidden: false,
            can_publish_data: true,
        }
    }

    fn user_packet(identity: &str, sequence: u32, to: &[&str]) -> Vec<u8> {
        proto::DataPacket {
            participant_identity: identity.into(),
            participant_sid: "PA_forged".into(),
            sequence,
            destination_identities: to.iter().map(|s| (*s).to_owned()).collect(),
            value: Some(Value::User(proto::UserPacket {
                payload: b"hi".to_vec(),
                participant_identity: identity.into(),
                ..Default::default()
            })),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn the_server_stamps_the_real_sender() {
        let mut last = 0;
        let routed = admit(
            &user_packet("mallory", 1, &["bob"]),
            &sender(),
            Lane::Reliable,
            &mut last,
        )
        .expect("admitted");
        let packet = proto::DataPacket::decode(routed.bytes.as_slice()).expect("decodes");
        assert_eq!(packet.participant_identity, "ada");
        assert_eq!(packet.participant_sid, "PA_real");
        let Some(Value::User(user)) = packet.value else {
            panic!("user packet expected");
        };
        assert_eq!(user.participant_identity, "ada");
        assert_eq!(user.destination_identities, vec!["bob".to_owned()]);
        assert_eq!(routed.destinations, vec!["bob".to_owned()]);
    }

    #[test]
    fn duplicates_and_senders_without_the_grant_are_refused() {
        let mut last = 0;
        let packet = user_packet("ada", 7, &[]);
        assert!(admit(&packet, &sender(), Lane::Reliable, &mut last).is_ok());
        assert_eq!(
            admit(&packet, &sender(), Lane::Reliable, &mut last),
            Err(DataRejection::Duplicate {
                sequence: 7,
                last: 7
            })
        );
        let guest = Sender {
            can_publish_data: false,
            ..sender()
        };
        assert_eq!(
            admit(
                &user_packet("ada", 8, &[]),
                &guest,
                Lane::Reliable,
                &mut last
            ),
            Err(DataRejection::NotAllowed)
        );
        assert!(matches!(
            admit(b"\xff\xff\xff", &sender(), Lane::Lossy, &mut last),
            Err(DataRejection::Malformed(_))
        ));
    }

    #[test]
    fn hidden_senders_stay_anonymous_and_addressing_is_by_identity() {
        let hidden = Sender {
            hidden: true,
            ..sender()
        };
        let mut last = 0;
        let routed = admit(&user_packet("x", 0, &[]), &hidden, Lane::Lossy, &mut last).expect("ok");
        let packet = proto::DataPacket::decode(routed.bytes.as_slice()).expect("decodes");
        assert_eq!(packet.participant_identity, "");
        assert_eq!(packet.kind, proto::data_packet::Kind::Lossy as i32);
        assert!(is_addressed_to(&[], "bob"));
        assert!(is_addressed_to(&["bob".into()], "bob"));
        assert!(!is_addressed_to(&["bob".into()], "eve"));
    }
}
