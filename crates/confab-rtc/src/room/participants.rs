//! The remote participants and their tracks as the server's `ParticipantUpdate`s describe them.
//! Pure bookkeeping: each update goes in, the events that describe the change come out.

use std::collections::HashMap;

use livekit_protocol as proto;
use proto::participant_info::State;

use super::events::{Participant, RoomEvent, TrackInfo};

#[derive(Debug, Default)]
pub struct Participants {
    local_sid: String,
    by_sid: HashMap<String, Remote>,
}

#[derive(Debug)]
struct Remote {
    participant: Participant,
    tracks: HashMap<String, TrackInfo>,
}

impl Participants {
    pub fn new(local_sid: &str) -> Self {
        Self {
            local_sid: local_sid.to_owned(),
            by_sid: HashMap::new(),
        }
    }

    /// The identity of the participant with `sid`.
    pub fn identity_of(&self, sid: &str) -> Option<&str> {
        self.by_sid
            .get(sid)
            .map(|remote| remote.participant.identity.as_str())
    }

    /// Who published track `track_sid`, and the track.
    pub fn track(&self, track_sid: &str) -> Option<(&str, &TrackInfo)> {
        self.by_sid.values().find_map(|remote| {
            remote
                .tracks
                .get(track_sid)
                .map(|track| (remote.participant.identity.as_str(), track))
        })
    }

    /// Applies one participant's state; returns the events it implies. Our own entry is skipped
    /// (the engine handles local permission changes).
    pub fn apply(&mut self, info: &proto::ParticipantInfo) -> Vec<RoomEvent> {
        if info.sid == self.local_sid || info.sid.is_empty() {
            return Vec::new();
        }
        if info.state() == State::Disconnected {
            return self.remove(&info.sid);
        }
        let participant = Participant::from(info);
        let tracks: HashMap<String, TrackInfo> = info
            .tracks
            .iter()
            .filter_map(TrackInfo::from_proto)
            .map(|track| (track.sid.clone(), track))
            .collect();
        let mut events = Vec::new();
        let identity = participant.identity.clone();
        let previous = self.by_sid.remove(&info.sid);
        let old_tracks = match previous {
            None => {
                events.push(RoomEvent::ParticipantJoined(participant.clone()));
                HashMap::new()
            }
            Some(previous) => {
                if previous.participant != participant {
                    events.push(RoomEvent::ParticipantUpdated(participant.clone()));
                }
                previous.tracks
            }
        };
        for (sid, track) in &tracks {
            match old_tracks.get(sid) {
                None => events.push(RoomEvent::TrackPublished {
                    identity: identity.clone(),
                    track: track.clone(),
                }),
                Some(old) if old.muted != track.muted => events.push(RoomEvent::TrackMuted {
                    identity: identity.clone(),
                    track_sid: sid.clone(),
                    muted: track.muted,
                }),
                Some(_) => {}
            }
        }
        for sid in old_tracks.keys().filter(|sid| !tracks.contains_key(*sid)) {
            events.push(RoomEvent::TrackUnpublished {
                identity: identity.clone(),
                track_sid: sid.clone(),
            });
        }
        self.by_sid.insert(
            info.sid.clone(),
            Remote {
                participant,
                tracks,
            },
        );
        events
    }

    /// Everyone leaves at once (our session ended and a new one starts): the events that
    /// describe it.
    pub fn into_departures(mut self) -> Vec<RoomEvent> {
        let sids: Vec<String> = self.by_sid.keys().cloned().collect();
        sids.iter().flat_map(|sid| self.remove(sid)).collect()
    }

    fn remove(&mut self, sid: &str) -> Vec<RoomEvent> {
        let Some(remote) = self.by_sid.remove(sid) else {
            return Vec::new();
        };
        let identity = remote.participant.identity;
        let mut events: Vec<RoomEvent> = remote
            .tracks
            .into_keys()
            .map(|track_sid| RoomEvent::TrackUnpublished {
                identity: identity.clone(),
                track_sid,
            })
            .collect();
        events.push(RoomEvent::ParticipantLeft { identity });
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sid: &str, identity: &str, tracks: &[(&str, bool)]) -> proto::ParticipantInfo {
        proto::ParticipantInfo {
            sid: sid.into(),
            identity: identity.into(),
            state: State::Active as i32,
            tracks: tracks
                .iter()
                .map(|(track_sid, muted)| proto::TrackInfo {
                    sid: (*track_sid).into(),
                    r#type: proto::TrackType::Audio as i32,
                    muted: *muted,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn names(events: &[RoomEvent]) -> Vec<String> {
        events
            .iter()
            .map(|event| match event {
                RoomEvent::ParticipantJoined(p) => format!("joined {}", p.identity),
                RoomEvent::ParticipantUpdated(p) => format!("updated {}", p.identity),
                RoomEvent::ParticipantLeft { identity } => format!("left {identity}"),
                RoomEvent::TrackPublished { track, .. } => format!("published {}", track.sid),
                RoomEvent::TrackUnpublished { track_sid, .. } => format!("unpublished {track_sid}"),
                RoomEvent::TrackMuted {
                    track_sid, muted, ..
                } => format!("muted {track_sid} {muted}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_new_participant_and_its_tracks_are_announced_once() {
        let mut room = Participants::new("PA_me");
        let alice = info("PA_a", "alice", &[("TR_1", false)]);
        assert_eq!(
            names(&room.apply(&alice)),
            ["joined alice", "published TR_1"]
        );
        assert!(
            room.apply(&alice).is_empty(),
            "a repeated update is no news"
        );
        assert_eq!(room.track("TR_1").map(|(who, _)| who), Some("alice"));
    }

    #[test]
    fn mute_changes_and_removed_tracks_are_reported() {
        let mut room = Participants::new("PA_me");
        room.apply(&info("PA_a", "alice", &[("TR_1", false), ("TR_2", false)]));
        let events = room.apply(&info("PA_a", "alice", &[("TR_1", true)]));
        assert_eq!(names(&events), ["muted TR_1 true", "unpublished TR_2"]);
    }

    #[test]
    fn leaving_unpublishes_then_leaves_and_we_are_never_listed() {
        let mut room = Participants::new("PA_me");
        assert!(room.apply(&info("PA_me", "me", &[])).is_empty());
        room.apply(&info("PA_a", "alice", &[("TR_1", false)]));
        let mut gone = info("PA_a", "alice", &[]);
        gone.state = State::Disconnected as i32;
        assert_eq!(
            names(&room.apply(&gone)),
            ["unpublished TR_1", "left alice"]
        );
        assert!(
            room.apply(&gone).is_empty(),
            "leaving twice is reported once"
        );
    }
}
