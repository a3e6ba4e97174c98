//! Receive-only media sections on a single peer connection (`/rtc/v1`).
//!
//! With one connection the client makes every offer, so a server that wants to send us a
//! track needs a media section we offered. It reuses an idle receive-only section where it has
//! one, and otherwise tells us how many more it needs (`MediaSectionsRequirement`); either way
//! its answer to our next offer maps sections to tracks (`mid_to_track_id`). This keeps the
//! sections we offered to receive on and says what the next offer adds or re-enables.

use str0m::change::SdpApi;
use str0m::media::{Direction, MediaKind, Mid};

/// Sections the first offer carries, so tracks the server subscribes us to while the join is
/// under way are mapped by its first answer rather than one more offer later (pion gives a
/// track added before our offer the first offered section of its kind). Three of each covers a
/// room of three publishers; more arrive as the server asks.
const INITIAL_AUDIO: u32 = 3;
const INITIAL_VIDEO: u32 = 3;

/// A receive-only section we offered, as the transport last saw it.
#[derive(Debug, Clone, Copy)]
pub struct SectionState {
    pub mid: Mid,
    /// Our direction is still receive-only (an answer that declines it makes it inactive).
    pub receiving: bool,
    /// The server's latest answer maps a track onto it.
    pub mapped: bool,
}

#[derive(Debug)]
pub struct ReceiveSections {
    /// What to add to the next offer: audio, video.
    wanted: [u32; 2],
    /// The server asked for an offer even though it needs no new section: it put a track on
    /// an idle one.
    offer_again: bool,
    /// Every section we added, oldest first, with its kind.
    added: Vec<(Mid, MediaKind)>,
}

impl Default for ReceiveSections {
    fn default() -> Self {
        Self {
            wanted: [INITIAL_AUDIO, INITIAL_VIDEO],
            offer_again: false,
            added: Vec::new(),
        }
    }
}

impl ReceiveSections {
    /// The server's `MediaSectionsRequirement`; every one asks for an offer (zero sections
    /// mean "offer again").
    pub fn require(&mut self, audios: u32, videos: u32) {
        self.wanted[0] = self.wanted[0].saturating_add(audios);
        self.wanted[1] = self.wanted[1].saturating_add(videos);
        if audios == 0 && videos == 0 {
            self.offer_again = true;
        }
    }

    /// The mids of every section we added, for [`Self::add_to`]'s `states`.
    pub fn mids(&self) -> impl Iterator<Item = Mid> + '_ {
        self.added.iter().map(|(mid, _)| *mid)
    }

    /// Adds to the offer being built what it owes the server: new sections, sections an answer
    /// turned inactive made receive-only again (the server may put a track on any idle one),
    /// and, when it asked for an offer with nothing else in it, a change that makes one (str0m
    /// makes no offer without a change: an idle section goes inactive and back).
    pub fn add_to(&mut self, api: &mut SdpApi<'_>, states: &[SectionState]) {
        for state in states.iter().filter(|state| !state.receiving) {
            api.set_direction(state.mid, Direction::RecvOnly);
        }
        for (kind, count) in [MediaKind::Audio, MediaKind::Video]
            .into_iter()
            .zip(std::mem::take(&mut self.wanted))
        {
            for _ in 0..count {
                let mid = api.add_media(kind, Direction::RecvOnly, None, None, None);
                self.added.push((mid, kind));
            }
        }
        if !std::mem::take(&mut self.offer_again) || api.has_changes() {
            return;
        }
        // The newest idle section: the server hands out the oldest first, so this is the one
        // least likely to be the section it just took (and a taken one carries nothing yet,
        // so toggling it loses nothing either). With none idle (the server took a track off
        // one we still see mapped), a new section: toggling a live one would drop the frame
        // it is receiving.
        let nudged = states.iter().rev().find(|state| !state.mapped);
        match nudged {
            Some(state) => {
                api.set_direction(state.mid, Direction::Inactive);
                api.set_direction(state.mid, Direction::RecvOnly);
            }
            None => {
                let mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
                self.added.push((mid, MediaKind::Video));
            }
        }
    }

    /// Our offer was abandoned (the connection dropped before its answer): the sections it
    /// added never came to be and go into the next one.
    pub fn offer_abandoned(&mut self, negotiated: impl Fn(Mid) -> bool) {
        let mut index = 0;
        while index < self.added.len() {
            let (mid, kind) = self.added[index];
            if negotiated(mid) {
                index += 1;
                continue;
            }
            self.added.remove(index);
            let slot = usize::from(kind == MediaKind::Video);
            self.wanted[slot] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use str0m::Rtc;
    use str0m::change::SdpOffer;

    use super::*;

    /// The state `add_to` is given for every section `sections` added to `rtc`.
    fn states(rtc: &Rtc, sections: &ReceiveSections, mapped: &[Mid]) -> Vec<SectionState> {
        sections
            .mids()
            .map(|mid| SectionState {
                mid,
                receiving: rtc
                    .media(mid)
                    .is_some_and(|media| media.direction() == Direction::RecvOnly),
                mapped: mapped.contains(&mid),
            })
            .collect()
    }

    /// One offer from `client`, answered by `server`; returns the offer's SDP.
    fn negotiate(client: &mut Rtc, server: &mut Rtc, sections: &mut ReceiveSections) -> String {
        let states = states(client, sections, &[]);
        let mut api = client.sdp_api();
        sections.add_to(&mut api, &states);
        let (offer, pending) = api.apply().expect("an offer");
        let sdp = offer.to_sdp_string();
        let offer = SdpOffer::from_sdp_string(&sdp).expect("offer parses");
        let answer = server.sdp_api().accept_offer(offer).expect("answered");
        client
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("answer accepted");
        sdp
    }

    fn count(sdp: &str, line: &str) -> usize {
        sdp.lines().filter(|l| l.starts_with(line)).count()
    }

    #[test]
    fn the_first_offer_carries_receive_only_sections_of_both_kinds() {
        let now = Instant::now();
        let (mut client, mut server) = (Rtc::new(now), Rtc::new(now));
        let mut sections = ReceiveSections::default();
        let sdp = negotiate(&mut client, &mut server, &mut sections);
        assert_eq!(count(&sdp, "m=audio"), INITIAL_AUDIO as usize, "{sdp}");
        assert_eq!(count(&sdp, "m=video"), INITIAL_VIDEO as usize, "{sdp}");
        assert_eq!(
            count(&sdp, "a=recvonly"),
            (INITIAL_AUDIO + INITIAL_VIDEO) as usize
        );
        assert_eq!(sections.mids().count(), 6);
    }

    #[test]
    fn a_requirement_adds_that_many_sections_to_the_next_offer() {
        let now = Instant::now();
        let (mut client, mut server) = (Rtc::new(now), Rtc::new(now));
        let mut sections = ReceiveSections::default();
        negotiate(&mut client, &mut server, &mut sections);
        sections.require(2, 1);
        let sdp = negotiate(&mut client, &mut server, &mut sections);
        assert_eq!(count(&sdp, "m=audio"), INITIAL_AUDIO as usize + 2, "{sdp}");
        assert_eq!(count(&sdp, "m=video"), INITIAL_VIDEO as usize + 1, "{sdp}");
    }

    #[test]
    fn a_requirement_of_nothing_still_makes_an_offer_that_changes_nothing() {
        let now = Instant::now();
        let (mut client, mut server) = (Rtc::new(now), Rtc::new(now));
        let mut sections = ReceiveSections::default();
        let first = negotiate(&mut client, &mut server, &mut sections);

        // Without the requirement there is nothing to offer.
        let states = states(&client, &sections, &[]);
        let mut api = client.sdp_api();
        sections.add_to(&mut api, &states);
        assert!(api.apply().is_none());

        sections.require(0, 0);
        let again = negotiate(&mut client, &mut server, &mut sections);
        assert_eq!(count(&again, "m="), count(&first, "m="), "{again}");
        assert_eq!(count(&again, "a=recvonly"), count(&first, "a=recvonly"));
        assert_eq!(count(&again, "a=inactive"), 0, "{again}");
    }

    #[test]
    fn a_requirement_of_nothing_with_every_section_mapped_adds_one() {
        let now = Instant::now();
        let (mut client, mut server) = (Rtc::new(now), Rtc::new(now));
        let mut sections = ReceiveSections::default();
        negotiate(&mut client, &mut server, &mut sections);
        let all: Vec<Mid> = sections.mids().collect();
        let states = states(&client, &sections, &all);
        sections.require(0, 0);
        let mut api = client.sdp_api();
        sections.add_to(&mut api, &states);
        let (offer, _) = api.apply().expect("an offer");
        let sdp = offer.to_sdp_string();
        assert_eq!(count(&sdp, "m=video"), INITIAL_VIDEO as usize + 1, "{sdp}");
        assert_eq!(sections.mids().count(), all.len() + 1);
    }

    #[test]
    fn an_abandoned_offer_hands_its_sections_to_the_next() {
        let now = Instant::now();
        let mut client = Rtc::new(now);
        let mut sections = ReceiveSections::default();
        let mut api = client.sdp_api();
        sections.add_to(&mut api, &[]);
        assert!(api.apply().is_some());
        sections.offer_abandoned(|mid| client.media(mid).is_some());
        assert_eq!(sections.mids().count(), 0);
        assert_eq!(sections.wanted, [INITIAL_AUDIO, INITIAL_VIDEO]);
    }
}
