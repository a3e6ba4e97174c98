//! The conference API's wire shapes: JSON bodies of `/api/conference/*`, shared by the server
//! (embedded host or `confab server --livekit-url`) and every client (the app, `confab join`,
//! the tests). docs/API.md and docs/openapi.yaml describe the same shapes for other clients.

use confab_ipc::MeetingCode;
use serde::{Deserialize, Serialize};

/// The data topic on which the server tells hosts who waits (a [`WaitingList`] as JSON).
pub const WAITING_TOPIC: &str = "confab.waiting";
/// The data topic on which the server tells a guest waiting in a lobby room that it was let
/// in (LiveKit deployments; the payload is empty: the guest knocks for its ticket).
pub const ADMITTED_TOPIC: &str = "confab.admitted";

/// A participant's role in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Host,
    CoHost,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::CoHost => "co-host",
            Self::Guest => "guest",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Host, Self::CoHost, Self::Guest]
            .into_iter()
            .find(|role| role.as_str() == value)
    }

    /// Hosts and co-hosts run the meeting.
    pub fn is_host(self) -> bool {
        matches!(self, Self::Host | Self::CoHost)
    }
}

/// Who runs the meeting, as the server keeps it in the room's metadata (`{"confab": …}`).
/// Participants can change their own attributes but never the room's metadata, so clients
/// take roles from here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRoles {
    pub title: String,
    pub host: String,
    #[serde(default)]
    pub co_hosts: Vec<String>,
    /// Set just before the room closes: why the meeting ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<EndCause>,
}

/// Why a meeting ended, as the room's metadata says just before the room closes (the
/// metadata travels on the signalling connection ahead of the `ROOM_DELETED` leave).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndCause {
    /// A host ended it for everyone.
    EndedByHost,
    /// Every host was gone for the grace period (LiveKit deployments).
    HostsLeft,
}

impl MeetingRoles {
    /// The room metadata that carries these roles.
    pub fn to_room_metadata(&self) -> String {
        serde_json::json!({ "confab": self }).to_string()
    }

    /// The roles in a room's metadata, if it is a meeting's.
    pub fn from_room_metadata(metadata: &str) -> Option<Self> {
        let mut value: serde_json::Value = serde_json::from_str(metadata).ok()?;
        serde_json::from_value(value.get_mut("confab")?.take()).ok()
    }

    pub fn role_of(&self, identity: &str) -> Role {
        if identity == self.host {
            Role::Host
        } else if self.co_hosts.iter().any(|co_host| co_host == identity) {
            Role::CoHost
        } else {
            Role::Guest
        }
    }
}

/// `POST /api/conference/create` (an API token with `roomCreate`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The host's display name.
    pub host_name: String,
    #[serde(default)]
    pub title: String,
    /// A code from `generate-code`; a fresh one when absent.
    #[serde(default)]
    pub code: Option<MeetingCode>,
    /// Guests wait until a host admits them (the default).
    #[serde(default = "yes")]
    pub waiting_room: bool,
    /// Nearby apps may list the meeting by its title (LAN discovery); otherwise only someone
    /// who knows the code finds it.
    #[serde(default)]
    pub listed: bool,
}

fn yes() -> bool {
    true
}

/// What a participant needs to enter the meeting's room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTicket {
    pub code: MeetingCode,
    pub room: String,
    /// Where the LiveKit-compatible signalling is (`ws://…`, `wss://…`).
    pub server_url: String,
    /// The participant's access token for `server_url`.
    pub token: String,
    pub identity: String,
    pub role: Role,
    pub title: String,
    /// The participant must wait for a host (its token grants nothing yet).
    pub waiting: bool,
}

/// `POST /api/conference/create`'s answer: the host's ticket and how to invite people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateResponse {
    #[serde(flatten)]
    pub ticket: RoomTicket,
    /// `confab://join/<code>?host=<address>`.
    pub invite: String,
}

/// `POST /api/conference/generate-code`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedCode {
    pub code: MeetingCode,
}

/// `POST /api/conference/join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub code: String,
    pub name: String,
}

/// Where a guest's request to join stands (`POST /api/conference/knock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Admission {
    Waiting,
    Admitted,
    Denied,
    /// The meeting is over.
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnockResponse {
    pub status: Admission,
    /// For a guest admitted from a lobby room (LiveKit deployments): its ticket for the
    /// meeting's room, to connect with instead of the lobby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<RoomTicket>,
}

/// One guest in the waiting room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingGuest {
    pub identity: String,
    pub name: String,
    /// How long the guest has been waiting, in whole seconds.
    pub waiting_seconds: u64,
}

/// `GET /api/conference/waiting`, also sent to hosts on [`WAITING_TOPIC`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingList {
    pub waiting: Vec<WaitingGuest>,
    pub settings: MeetingSettings,
}

/// `POST /api/conference/admit` and `deny`: one guest, or (admit only) everyone waiting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRequest {
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitResponse {
    pub admitted: Vec<String>,
}

/// What hosts can switch during a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSettings {
    pub waiting_room: bool,
    /// Nobody new may join, not even into the waiting room.
    pub locked: bool,
}

impl Default for MeetingSettings {
    fn default() -> Self {
        Self {
            waiting_room: true,
            locked: false,
        }
    }
}

/// `POST /api/conference/settings`: the fields to change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsChange {
    #[serde(default)]
    pub waiting_room: Option<bool>,
    #[serde(default)]
    pub locked: Option<bool>,
}

/// `POST /api/conference/promote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromoteRequest {
    pub identity: String,
}

/// `POST /api/conference/host-token`'s answer: a co-host's token for the host routes and
/// LiveKit's RoomService.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostToken {
    pub token: String,
}

/// Every error body: `{"error": "<kind>", "message": "<for people>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_defaults_to_a_waiting_room_and_unlisted() {
        let request: CreateRequest = serde_json::from_str(r#"{"host_name":"Ada"}"#).expect("parse");
        assert!(request.waiting_room);
        assert!(!request.listed);
        assert_eq!(request.code, None);
    }

    #[test]
    fn a_malformed_code_in_create_is_refused() {
        let parsed = serde_json::from_str::<CreateRequest>(r#"{"host_name":"A","code":"12"}"#);
        assert!(parsed.is_err());
    }

    #[test]
    fn roles_travel_in_room_metadata() {
        let roles = MeetingRoles {
            title: "Standup".into(),
            host: "host-1".into(),
            co_hosts: vec!["guest-2".into()],
            ended: Some(EndCause::HostsLeft),
        };
        let metadata = roles.to_room_metadata();
        assert_eq!(
            MeetingRoles::from_room_metadata(&metadata),
            Some(roles.clone())
        );
        assert_eq!(roles.role_of("host-1"), Role::Host);
        assert_eq!(roles.role_of("guest-2"), Role::CoHost);
        assert_eq!(roles.role_of("guest-3"), Role::Guest);
        assert_eq!(MeetingRoles::from_room_metadata("not json"), None);
        assert_eq!(MeetingRoles::from_room_metadata(r#"{"other":1}"#), None);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::Host, Role::CoHost, Role::Guest] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).expect("json");
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
