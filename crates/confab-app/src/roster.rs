//! Who is in the meeting and what they show, as tiles and the participants panel need it:
//! built from the room's events, the meeting's roles and our own tracks.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::unix_millis;
use confab_conference::models::{MeetingRoles, Role};
use confab_ipc::meeting::{ParticipantView, Quality, ReactionView};
use confab_meeting::presence;
use confab_rtc::room::{
    ConnectionQuality, Participant, RoomEvent, TrackInfo, TrackKind, TrackSource,
};

#[derive(Debug, Clone, Default)]
struct Person {
    name: String,
    attributes: HashMap<String, String>,
    tracks: BTreeMap<String, TrackInfo>,
    /// Order of arrival, so tiles do not jump around.
    arrived: u64,
    /// Their latest reaction, when we saw it change.
    reaction: Option<ReactionView>,
}

/// Our own published tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalTracks {
    pub camera: Option<String>,
    pub microphone: Option<String>,
    pub microphone_muted: bool,
    pub screen: Option<String>,
}

#[derive(Debug, Default)]
pub struct Roster {
    identity: String,
    name: String,
    local: LocalTracks,
    hand_raised: bool,
    reaction: Option<ReactionView>,
    people: BTreeMap<String, Person>,
    roles: MeetingRoles,
    speaking: HashSet<String>,
    /// Connection quality by identity (ours too), as the server last rated it.
    quality: HashMap<String, Quality>,
    arrivals: u64,
}

impl Roster {
    pub fn new(identity: &str, name: &str) -> Self {
        Self {
            identity: identity.to_owned(),
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Applies a room event; true when the views changed.
    pub fn apply(&mut self, event: &RoomEvent) -> bool {
        match event {
            RoomEvent::ParticipantJoined(participant)
            | RoomEvent::ParticipantUpdated(participant) => {
                self.upsert(participant);
                true
            }
            RoomEvent::ParticipantLeft { identity } => {
                self.speaking.remove(identity);
                self.quality.remove(identity);
                self.people.remove(identity).is_some()
            }
            RoomEvent::TrackPublished { identity, track } => {
                self.person(identity)
                    .tracks
                    .insert(track.sid.clone(), track.clone());
                true
            }
            RoomEvent::TrackUnpublished {
                identity,
                track_sid,
            } => self
                .people
                .get_mut(identity)
                .is_some_and(|person| person.tracks.remove(track_sid).is_some()),
            RoomEvent::TrackMuted {
                identity,
                track_sid,
                muted,
            } => match self
                .people
                .get_mut(identity)
                .and_then(|person| person.tracks.get_mut(track_sid))
            {
                Some(track) => {
                    let changed = track.muted != *muted;
                    track.muted = *muted;
                    changed
                }
                None => false,
            },
            RoomEvent::ConnectionQuality { identity, quality } => {
                let quality = match quality {
                    ConnectionQuality::Excellent => Quality::Excellent,
                    ConnectionQuality::Good => Quality::Good,
                    ConnectionQuality::Poor => Quality::Poor,
                    ConnectionQuality::Lost => Quality::Lost,
                };
                self.quality.insert(identity.clone(), quality) != Some(quality)
            }
            RoomEvent::ActiveSpeakers(speakers) => {
                let now: HashSet<String> = speakers.iter().map(|s| s.identity.clone()).collect();
                let changed = now != self.speaking;
                self.speaking = now;
                changed
            }
            _ => false,
        }
    }

    fn person(&mut self, identity: &str) -> &mut Person {
        let arrivals = &mut self.arrivals;
        self.people.entry(identity.to_owned()).or_insert_with(|| {
            *arrivals += 1;
            Person {
                arrived: *arrivals,
                ..Person::default()
            }
        })
    }

    fn upsert(&mut self, participant: &Participant) {
        let person = self.person(&participant.identity);
        person.name.clone_from(&participant.name);
        let before = person.attributes.get(presence::REACTION_ATTRIBUTE).cloned();
        person.attributes.clone_from(&participant.attributes);
        // A reaction is new when its attribute changed (its sender's time is in it, so the
        // same emoji twice is two reactions); it shows from when we saw it.
        if person.attributes.get(presence::REACTION_ATTRIBUTE) != before.as_ref() {
            person.reaction =
                presence::reaction(&person.attributes).map(|(emoji, _)| ReactionView {
                    emoji,
                    seen_at: unix_millis(),
                });
        }
    }

    /// Our own reaction, as we sent it.
    pub fn set_reaction(&mut self, emoji: &str) {
        self.reaction = Some(ReactionView {
            emoji: emoji.to_owned(),
            seen_at: unix_millis(),
        });
    }

    pub fn set_roles(&mut self, roles: MeetingRoles) {
        self.roles = roles;
    }

    pub fn set_local(&mut self, local: LocalTracks) -> bool {
        let changed = self.local != local;
        self.local = local;
        changed
    }

    pub fn local(&self) -> &LocalTracks {
        &self.local
    }

    pub fn set_hand_raised(&mut self, raised: bool) {
        self.hand_raised = raised;
    }

    /// A display name for an identity (the identity itself for someone unknown).
    pub fn name_of(&self, identity: &str) -> String {
        if identity == self.identity {
            return self.name.clone();
        }
        self.people
            .get(identity)
            .map(|person| person.name.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| identity.to_owned())
    }

    /// Everyone, us first, then in order of arrival.
    pub fn views(&self) -> Vec<ParticipantView> {
        let local = ParticipantView {
            identity: self.identity.clone(),
            name: self.name.clone(),
            is_local: true,
            is_host: self.roles.role_of(&self.identity).is_host(),
            camera: self.local.camera.clone(),
            screen: self.local.screen.clone(),
            microphone: self.local.microphone.clone(),
            microphone_muted: self.local.microphone.is_none() || self.local.microphone_muted,
            speaking: self.speaking.contains(&self.identity),
            hand_raised: self.hand_raised,
            reaction: self.reaction.clone(),
            quality: self.quality_of(&self.identity),
        };
        let mut others: Vec<(&String, &Person)> = self.people.iter().collect();
        others.sort_by_key(|(_, person)| person.arrived);
        std::iter::once(local)
            .chain(
                others
                    .into_iter()
                    .map(|(identity, person)| self.view_of(identity, person)),
            )
            .collect()
    }

    fn view_of(&self, identity: &str, person: &Person) -> ParticipantView {
        let track = |kind: TrackKind, source: TrackSource| {
            person
                .tracks
                .values()
                .find(|track| track.kind == kind && track.source == source)
        };
        let camera = track(TrackKind::Video, TrackSource::Camera).filter(|t| !t.muted);
        let screen = track(TrackKind::Video, TrackSource::ScreenShare).filter(|t| !t.muted);
        let microphone = track(TrackKind::Audio, TrackSource::Microphone);
        ParticipantView {
            identity: identity.to_owned(),
            name: if person.name.is_empty() {
                identity.to_owned()
            } else {
                person.name.clone()
            },
            is_local: false,
            is_host: matches!(self.roles.role_of(identity), Role::Host | Role::CoHost),
            camera: camera.map(|t| t.sid.clone()),
            screen: screen.map(|t| t.sid.clone()),
            microphone: microphone.map(|t| t.sid.clone()),
            microphone_muted: microphone.is_none_or(|t| t.muted),
            speaking: self.speaking.contains(identity),
            hand_raised: presence::hand_raised(&person.attributes),
            reaction: person.reaction.clone(),
            quality: self.quality_of(identity),
        }
    }

    fn quality_of(&self, identity: &str) -> Quality {
        self.quality.get(identity).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(identity: &str, name: &str) -> Participant {
        Participant {
            sid: format!("PA_{identity}"),
            identity: identity.into(),
            name: name.into(),
            metadata: String::new(),
            attributes: HashMap::new(),
            permissions: Default::default(),
        }
    }

    fn track(sid: &str, kind: TrackKind, source: TrackSource) -> TrackInfo {
        TrackInfo {
            sid: sid.into(),
            name: String::new(),
            kind,
            source,
            muted: false,
            width: 0,
            height: 0,
            simulcast: false,
            mime_type: String::new(),
        }
    }

    #[test]
    fn tiles_follow_people_tracks_mutes_hands_and_roles() {
        let mut roster = Roster::new("me", "Me");
        roster.apply(&RoomEvent::ParticipantJoined(participant("ada", "Ada")));
        roster.apply(&RoomEvent::TrackPublished {
            identity: "ada".into(),
            track: track("TR_cam", TrackKind::Video, TrackSource::Camera),
        });
        roster.apply(&RoomEvent::TrackPublished {
            identity: "ada".into(),
            track: track("TR_mic", TrackKind::Audio, TrackSource::Microphone),
        });
        roster.set_roles(MeetingRoles {
            host: "ada".into(),
            ..MeetingRoles::default()
        });
        let views = roster.views();
        assert_eq!(views.len(), 2);
        assert!(views[0].is_local && !views[0].is_host);
        assert_eq!(views[1].name, "Ada");
        assert!(views[1].is_host);
        assert_eq!(views[1].camera.as_deref(), Some("TR_cam"));
        assert!(!views[1].microphone_muted);

        assert!(roster.apply(&RoomEvent::TrackMuted {
            identity: "ada".into(),
            track_sid: "TR_cam".into(),
            muted: true,
        }));
        let mut raised = participant("ada", "Ada");
        raised.attributes = presence::hand_attributes(true);
        roster.apply(&RoomEvent::ParticipantUpdated(raised));
        let ada = &roster.views()[1];
        assert_eq!(ada.camera, None, "a muted camera shows no video");
        assert!(ada.hand_raised);

        assert!(roster.apply(&RoomEvent::ParticipantLeft {
            identity: "ada".into()
        }));
        assert_eq!(roster.views().len(), 1);
        assert_eq!(roster.name_of("ada"), "ada");
    }

    #[test]
    fn a_reaction_shows_when_its_attribute_changes_and_the_same_emoji_again_is_new() {
        let mut roster = Roster::new("me", "Me");
        let mut ada = participant("ada", "Ada");
        roster.apply(&RoomEvent::ParticipantJoined(ada.clone()));
        assert_eq!(roster.views()[1].reaction, None);
        ada.attributes = presence::reaction_attributes("🎉", 1_000).expect("fits");
        roster.apply(&RoomEvent::ParticipantUpdated(ada.clone()));
        let first = roster.views()[1].reaction.clone().expect("a reaction");
        assert_eq!(first.emoji, "🎉");
        // Another update (her name) keeps the reaction as it was seen.
        ada.name = "Ada L".into();
        roster.apply(&RoomEvent::ParticipantUpdated(ada.clone()));
        assert_eq!(roster.views()[1].reaction.as_ref(), Some(&first));
        ada.attributes = presence::reaction_attributes("🎉", 2_000).expect("fits");
        roster.apply(&RoomEvent::ParticipantUpdated(ada));
        let again = roster.views()[1].reaction.clone().expect("a reaction");
        assert!(again.seen_at >= first.seen_at);
        roster.set_reaction("👍");
        assert_eq!(
            roster.views()[0]
                .reaction
                .as_ref()
                .map(|r| r.emoji.as_str()),
            Some("👍")
        );
    }

    #[test]
    fn connection_quality_is_shown_per_person_ours_included_and_repeats_change_nothing() {
        let mut roster = Roster::new("me", "Me");
        roster.apply(&RoomEvent::ParticipantJoined(participant("ada", "Ada")));
        assert_eq!(roster.views()[1].quality, Quality::Unknown);
        let rate = |identity: &str, quality| RoomEvent::ConnectionQuality {
            identity: identity.into(),
            quality,
        };
        assert!(roster.apply(&rate("ada", ConnectionQuality::Poor)));
        assert!(!roster.apply(&rate("ada", ConnectionQuality::Poor)));
        assert!(roster.apply(&rate("me", ConnectionQuality::Excellent)));
        let views = roster.views();
        assert_eq!(views[0].quality, Quality::Excellent);
        assert_eq!(views[1].quality, Quality::Poor);
    }
}
