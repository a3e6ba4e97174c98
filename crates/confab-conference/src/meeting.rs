//! One meeting's rules, sans-IO: who hosts, who waits, who was let in or turned away, whether
//! the meeting is locked. Operations take the time and return [`Effect`]s for the room (grant,
//! remove, notify the hosts, end), which the service carries out on the SFU or LiveKit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use confab_ipc::MeetingCode;

use crate::models::{
    Admission, EndCause, MeetingRoles, MeetingSettings, Role, SettingsChange, WaitingGuest,
    WaitingList,
};

/// A waiting guest knocks every 5 s; one silent for this long is no longer shown to hosts.
pub const SHOWN_AFTER_KNOCK: Duration = Duration::from_secs(15);
/// A waiting guest silent for this long has gone (closed the app, lost the network).
pub const FORGOTTEN_AFTER: Duration = Duration::from_secs(60);
/// By default a meeting whose hosts have all been gone this long ends (time for a host's app
/// to reconnect).
pub const HOSTLESS_GRACE: Duration = Duration::from_secs(30);

/// What the room must do after an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Give the participant a member's permissions and make it visible.
    Grant { identity: String },
    /// Take the participant out of the room (a denied guest).
    Remove { identity: String },
    /// Tell every host who waits now.
    NotifyHosts(WaitingList),
    /// Publish who hosts in the room's metadata.
    PublishRoles(MeetingRoles),
    /// Close the room for everyone, saying why.
    End(EndCause),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeetingError {
    #[error("The meeting is locked: nobody new can join")]
    Locked,
    #[error("The meeting has ended")]
    Ended,
    #[error("Nobody called {0} is waiting")]
    NotWaiting(String),
    #[error("Nobody called {0} is in this meeting")]
    UnknownParticipant(String),
}

#[derive(Debug, Clone)]
struct Guest {
    name: String,
    admission: Admission,
    requested_at: Instant,
    last_knock: Option<Instant>,
    /// The hosts were told about this guest.
    announced: bool,
    /// The room confirmed an admitted guest's new permissions.
    granted: bool,
}

impl Guest {
    fn last_heard(&self) -> Instant {
        self.last_knock.unwrap_or(self.requested_at)
    }
}

#[derive(Debug)]
pub struct Meeting {
    code: MeetingCode,
    room: String,
    title: String,
    listed: bool,
    settings: MeetingSettings,
    host: String,
    co_hosts: BTreeSet<String>,
    guests: BTreeMap<String, Guest>,
    /// Since when no host has been seen in the room (None while one is there, or before the
    /// first was ever seen).
    hostless_since: Option<Instant>,
    host_seen: bool,
    ended: bool,
}

impl Meeting {
    pub fn new(
        code: MeetingCode,
        room: String,
        title: String,
        host: String,
        settings: MeetingSettings,
        listed: bool,
    ) -> Self {
        Self {
            code,
            room,
            title,
            listed,
            settings,
            host,
            co_hosts: BTreeSet::new(),
            guests: BTreeMap::new(),
            hostless_since: None,
            host_seen: false,
            ended: false,
        }
    }

    pub fn code(&self) -> &MeetingCode {
        &self.code
    }

    pub fn room(&self) -> &str {
        &self.room
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn listed(&self) -> bool {
        self.listed
    }

    pub fn settings(&self) -> MeetingSettings {
        self.settings
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The host and the co-hosts.
    pub fn hosts(&self) -> Vec<String> {
        std::iter::once(self.host.clone())
            .chain(self.co_hosts.iter().cloned())
            .collect()
    }

    pub fn role_of(&self, identity: &str) -> Option<Role> {
        if identity == self.host {
            Some(Role::Host)
        } else if self.co_hosts.contains(identity) {
            Some(Role::CoHost)
        } else if self.guests.contains_key(identity) {
            Some(Role::Guest)
        } else {
            None
        }
    }

    /// A guest asks to join. Returns whether it has to wait for a host.
    pub fn add_guest(
        &mut self,
        identity: &str,
        name: &str,
        now: Instant,
    ) -> Result<bool, MeetingError> {
        if self.ended {
            return Err(MeetingError::Ended);
        }
        if self.settings.locked {
            return Err(MeetingError::Locked);
        }
        let waits = self.settings.waiting_room;
        self.guests.insert(
            identity.to_owned(),
            Guest {
                name: name.to_owned(),
                admission: if waits {
                    Admission::Waiting
                } else {
                    Admission::Admitted
                },
                requested_at: now,
                last_knock: None,
                announced: false,
                // Without a waiting room the token already grants everything.
                granted: !waits,
            },
        );
        Ok(waits)
    }

    /// A guest announces that it is still there. Hosts hear of a guest at its first knock;
    /// an admitted guest whose new permissions did not reach the room yet gets them again.
    pub fn knock(
        &mut self,
        identity: &str,
        now: Instant,
    ) -> Result<(Admission, Vec<Effect>), MeetingError> {
        if self.ended {
            return Ok((Admission::Ended, Vec::new()));
        }
        let guest = self
            .guests
            .get_mut(identity)
            .ok_or_else(|| MeetingError::UnknownParticipant(identity.to_owned()))?;
        guest.last_knock = Some(now);
        let admission = guest.admission;
        let effects = match admission {
            Admission::Waiting if !guest.announced => {
                guest.announced = true;
                vec![Effect::NotifyHosts(self.waiting_list(now))]
            }
            Admission::Admitted if !guest.granted => vec![Effect::Grant {
                identity: identity.to_owned(),
            }],
            _ => Vec::new(),
        };
        Ok((admission, effects))
    }

    /// The display name a guest gave.
    pub fn name_of(&self, identity: &str) -> Option<String> {
        self.guests.get(identity).map(|guest| guest.name.clone())
    }

    /// The room applied an admitted guest's permissions.
    pub fn confirm_granted(&mut self, identity: &str) {
        if let Some(guest) = self.guests.get_mut(identity) {
            guest.granted = true;
        }
    }

    pub fn admit(&mut self, identity: &str, now: Instant) -> Result<Vec<Effect>, MeetingError> {
        self.let_in(identity)?;
        Ok(vec![
            Effect::Grant {
                identity: identity.to_owned(),
            },
            Effect::NotifyHosts(self.waiting_list(now)),
        ])
    }

    /// Admits everyone waiting; returns who and what the room must do.
    pub fn admit_all(&mut self, now: Instant) -> (Vec<String>, Vec<Effect>) {
        let waiting: Vec<String> = self
            .guests
            .iter()
            .filter(|(_, guest)| guest.admission == Admission::Waiting)
            .map(|(identity, _)| identity.clone())
            .collect();
        let mut effects = Vec::new();
        for identity in &waiting {
            if self.let_in(identity).is_ok() {
                effects.push(Effect::Grant {
                    identity: identity.clone(),
                });
            }
        }
        if !waiting.is_empty() {
            effects.push(Effect::NotifyHosts(self.waiting_list(now)));
        }
        (waiting, effects)
    }

    fn let_in(&mut self, identity: &str) -> Result<(), MeetingError> {
        match self.guests.get_mut(identity) {
            Some(guest) if guest.admission == Admission::Waiting => {
                guest.admission = Admission::Admitted;
                guest.granted = false;
                Ok(())
            }
            _ => Err(MeetingError::NotWaiting(identity.to_owned())),
        }
    }

    pub fn deny(&mut self, identity: &str, now: Instant) -> Result<Vec<Effect>, MeetingError> {
        match self.guests.get_mut(identity) {
            Some(guest) if guest.admission == Admission::Waiting => {
                guest.admission = Admission::Denied;
            }
            _ => return Err(MeetingError::NotWaiting(identity.to_owned())),
        }
        Ok(vec![
            Effect::Remove {
                identity: identity.to_owned(),
            },
            Effect::NotifyHosts(self.waiting_list(now)),
        ])
    }

    /// Switching the waiting room off lets in everyone waiting, as people expect.
    pub fn change_settings(&mut self, change: SettingsChange, now: Instant) -> Vec<Effect> {
        if let Some(locked) = change.locked {
            self.settings.locked = locked;
        }
        let mut effects = Vec::new();
        if let Some(waiting_room) = change.waiting_room {
            self.settings.waiting_room = waiting_room;
            if !waiting_room {
                effects = self.admit_all(now).1;
            }
        }
        if !effects
            .iter()
            .any(|effect| matches!(effect, Effect::NotifyHosts(_)))
        {
            effects.push(Effect::NotifyHosts(self.waiting_list(now)));
        }
        effects
    }

    /// Makes an admitted guest a co-host.
    pub fn promote(&mut self, identity: &str) -> Result<Vec<Effect>, MeetingError> {
        let admitted = self
            .guests
            .get(identity)
            .is_some_and(|guest| guest.admission == Admission::Admitted);
        if !admitted {
            return Err(MeetingError::UnknownParticipant(identity.to_owned()));
        }
        self.co_hosts.insert(identity.to_owned());
        Ok(vec![Effect::PublishRoles(self.roles())])
    }

    /// Who hosts, as the room's metadata carries it.
    pub fn roles(&self) -> MeetingRoles {
        MeetingRoles {
            title: self.title.clone(),
            host: self.host.clone(),
            co_hosts: self.co_hosts.iter().cloned().collect(),
            ended: None,
        }
    }

    /// Ends the meeting (a host asked, or every host left).
    pub fn end(&mut self, cause: EndCause) -> Vec<Effect> {
        if std::mem::replace(&mut self.ended, true) {
            Vec::new()
        } else {
            vec![Effect::End(cause)]
        }
    }

    /// Guests waiting now, longest-waiting first.
    pub fn waiting_list(&self, now: Instant) -> WaitingList {
        let mut waiting: Vec<(&String, &Guest)> = self
            .guests
            .iter()
            .filter(|(_, guest)| {
                guest.admission == Admission::Waiting
                    && now.saturating_duration_since(guest.last_heard()) <= SHOWN_AFTER_KNOCK
            })
            .collect();
        waiting.sort_by_key(|(_, guest)| guest.requested_at);
        WaitingList {
            waiting: waiting
                .into_iter()
                .map(|(identity, guest)| WaitingGuest {
                    identity: identity.clone(),
                    name: guest.name.clone(),
                    waiting_seconds: now.saturating_duration_since(guest.requested_at).as_secs(),
                })
                .collect(),
            settings: self.settings,
        }
    }

    /// Forgets guests who stopped knocking long ago.
    pub fn forget_departed(&mut self, now: Instant) {
        self.guests.retain(|_, guest| {
            guest.admission != Admission::Waiting
                || now.saturating_duration_since(guest.last_heard()) <= FORGOTTEN_AFTER
        });
    }

    /// Who of the meeting's hosts is in the room now. A meeting that had a host and then none
    /// for `grace` ends.
    pub fn observe_hosts(
        &mut self,
        present: &[String],
        now: Instant,
        grace: Duration,
    ) -> Vec<Effect> {
        let any_host = present
            .iter()
            .any(|identity| self.role_of(identity).is_some_and(Role::is_host));
        if any_host {
            self.host_seen = true;
            self.hostless_since = None;
            return Vec::new();
        }
        if !self.host_seen {
            return Vec::new();
        }
        let since = *self.hostless_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= grace {
            self.end(EndCause::HostsLeft)
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(settings: MeetingSettings) -> Meeting {
        Meeting::new(
            MeetingCode::parse("abc-defg-hij").expect("code"),
            "room".into(),
            "Standup".into(),
            "host-1".into(),
            settings,
            false,
        )
    }

    fn grant(identity: &str) -> Effect {
        Effect::Grant {
            identity: identity.into(),
        }
    }

    fn waiting_names(list: &WaitingList) -> Vec<&str> {
        list.waiting.iter().map(|g| g.name.as_str()).collect()
    }

    #[test]
    fn a_guest_waits_is_announced_once_and_admitted() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        assert_eq!(m.add_guest("g1", "Bob", now), Ok(true));
        let (status, effects) = m.knock("g1", now).expect("knock");
        assert_eq!(status, Admission::Waiting);
        match effects.as_slice() {
            [Effect::NotifyHosts(list)] => assert_eq!(waiting_names(list), ["Bob"]),
            other => panic!("expected one notification, got {other:?}"),
        }
        let (_, again) = m.knock("g1", now + Duration::from_secs(5)).expect("knock");
        assert!(again.is_empty(), "hosts are told once, then poll");
        let effects = m.admit("g1", now).expect("admit");
        assert_eq!(effects[0], grant("g1"));
        assert!(matches!(&effects[1], Effect::NotifyHosts(list) if list.waiting.is_empty()));
        assert_eq!(m.knock("g1", now).expect("knock").0, Admission::Admitted);
    }

    #[test]
    fn an_admitted_guest_is_granted_again_until_the_room_confirms() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.add_guest("g1", "Bob", now).expect("add");
        m.admit("g1", now).expect("admit");
        assert_eq!(m.knock("g1", now).expect("knock").1, [grant("g1")]);
        m.confirm_granted("g1");
        assert!(m.knock("g1", now).expect("knock").1.is_empty());
    }

    #[test]
    fn a_denied_guest_is_removed_and_cannot_be_admitted_later() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.add_guest("g1", "Mallory", now).expect("add");
        let effects = m.deny("g1", now).expect("deny");
        assert_eq!(
            effects[0],
            Effect::Remove {
                identity: "g1".into()
            }
        );
        assert_eq!(m.knock("g1", now).expect("knock").0, Admission::Denied);
        assert_eq!(
            m.admit("g1", now),
            Err(MeetingError::NotWaiting("g1".into()))
        );
    }

    #[test]
    fn admit_all_lets_in_everyone_waiting() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.add_guest("g1", "Bob", now).expect("add");
        m.add_guest("g2", "Cy", now).expect("add");
        let (admitted, effects) = m.admit_all(now);
        assert_eq!(admitted, ["g1", "g2"]);
        assert_eq!(&effects[..2], [grant("g1"), grant("g2")]);
        assert!(m.waiting_list(now).waiting.is_empty());
    }

    #[test]
    fn a_locked_meeting_takes_nobody_new() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.change_settings(
            SettingsChange {
                locked: Some(true),
                waiting_room: None,
            },
            now,
        );
        assert_eq!(m.add_guest("g1", "Bob", now), Err(MeetingError::Locked));
    }

    #[test]
    fn turning_the_waiting_room_off_admits_the_waiting_and_lets_the_next_straight_in() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.add_guest("g1", "Bob", now).expect("add");
        let effects = m.change_settings(
            SettingsChange {
                waiting_room: Some(false),
                locked: None,
            },
            now,
        );
        assert!(effects.contains(&grant("g1")));
        assert_eq!(m.add_guest("g2", "Cy", now), Ok(false));
        assert_eq!(
            m.knock("g2", now).expect("knock"),
            (Admission::Admitted, vec![])
        );
    }

    #[test]
    fn guests_who_stop_knocking_leave_the_list_then_are_forgotten() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.add_guest("g1", "Bob", now).expect("add");
        m.knock("g1", now).expect("knock");
        assert_eq!(
            waiting_names(&m.waiting_list(now + SHOWN_AFTER_KNOCK)),
            ["Bob"]
        );
        let later = now + SHOWN_AFTER_KNOCK + Duration::from_secs(1);
        assert!(m.waiting_list(later).waiting.is_empty());
        m.forget_departed(now + FORGOTTEN_AFTER + Duration::from_secs(1));
        assert!(m.knock("g1", later).is_err());
    }

    #[test]
    fn promotion_needs_an_admitted_guest_and_makes_a_host() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        m.add_guest("g1", "Bob", now).expect("add");
        assert!(
            m.promote("g1").is_err(),
            "a waiting guest cannot be promoted"
        );
        m.admit("g1", now).expect("admit");
        match m.promote("g1").expect("promote").as_slice() {
            [Effect::PublishRoles(roles)] => assert_eq!(roles.co_hosts, ["g1"]),
            other => panic!("expected the roles, got {other:?}"),
        }
        assert_eq!(m.role_of("g1"), Some(Role::CoHost));
        assert_eq!(m.hosts(), ["host-1", "g1"]);
    }

    #[test]
    fn a_meeting_ends_once_its_hosts_were_gone_for_the_grace_period() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        let mut observe = |present: &[&str], at| {
            let present: Vec<String> = present.iter().map(|p| p.to_string()).collect();
            m.observe_hosts(&present, at, HOSTLESS_GRACE)
        };
        assert!(observe(&[], now).is_empty(), "no host yet: still starting");
        assert!(observe(&["host-1"], now).is_empty());
        assert!(observe(&["g9"], now).is_empty());
        let almost = now + HOSTLESS_GRACE - Duration::from_secs(1);
        assert!(observe(&[], almost).is_empty());
        assert_eq!(
            observe(&[], now + HOSTLESS_GRACE),
            [Effect::End(EndCause::HostsLeft)]
        );
        assert!(m.is_ended());
        assert_eq!(m.knock("x", now).expect("knock").0, Admission::Ended);
        assert!(m.end(EndCause::EndedByHost).is_empty(), "ends once");
    }

    #[test]
    fn a_returning_host_resets_the_grace_period() {
        let now = Instant::now();
        let mut m = meeting(MeetingSettings::default());
        let grace = HOSTLESS_GRACE;
        m.observe_hosts(&["host-1".into()], now, grace);
        m.observe_hosts(&[], now + Duration::from_secs(20), grace);
        m.observe_hosts(&["host-1".into()], now + Duration::from_secs(25), grace);
        assert!(
            m.observe_hosts(&[], now + Duration::from_secs(40), grace)
                .is_empty()
        );
    }
}
