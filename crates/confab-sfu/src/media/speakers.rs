//! Who is speaking, from the audio-level header extension every publisher sends: a participant
//! is active in a window when enough of its audio packets are louder than the threshold, and
//! participants hear only about changes (`speakers_changed`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use livekit_protocol as proto;

/// How often speakers are re-evaluated and changes reported.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(500);
/// Louder than this (in -dBov, lower is louder) counts as speech; LiveKit's default is 35.
const SPEECH_THRESHOLD_DBOV: i8 = 35;
/// Share of a window's audio packets that must be speech for the speaker to be active.
const ACTIVE_SHARE: f32 = 0.4;

#[derive(Debug, Default)]
struct Window {
    packets: u32,
    loud: u32,
    /// Sum of linear levels of the loud packets.
    loud_level: f32,
}

#[derive(Debug)]
pub struct SpeakerDetector {
    windows: HashMap<String, Window>,
    /// Active speakers and their level at the last report.
    active: BTreeMap<String, f32>,
    next_report: Option<Instant>,
}

impl Default for SpeakerDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl SpeakerDetector {
    pub fn new() -> Self {
        Self {
            windows: HashMap::new(),
            active: BTreeMap::new(),
            next_report: None,
        }
    }

    /// One audio packet from `participant` with its audio level in dBov as str0m reports it
    /// (0 loudest … -127 silent; the magnitude is used, so 0 … 127 works too).
    pub fn observe(&mut self, now: Instant, participant: &str, level: i8) {
        let level_dbov = i8::try_from(level.unsigned_abs()).unwrap_or(i8::MAX);
        let window = self.windows.entry(participant.to_owned()).or_default();
        window.packets += 1;
        if level_dbov <= SPEECH_THRESHOLD_DBOV {
            window.loud += 1;
            window.loud_level += linear(level_dbov);
        }
        self.next_report.get_or_insert(now + REPORT_INTERVAL);
    }

    /// A participant left: it stops speaking at the next report.
    pub fn forget(&mut self, participant: &str) {
        self.windows.remove(participant);
    }

    /// When [`SpeakerDetector::report`] is next due, while anyone was heard recently.
    pub fn next_report(&self) -> Option<Instant> {
        self.next_report
    }

    /// Closes the window: the speakers whose state or level changed. `None` when not due.
    pub fn report(&mut self, now: Instant) -> Option<Vec<proto::SpeakerInfo>> {
        let due = self.next_report.is_some_and(|at| at <= now);
        if !due {
            return None;
        }
        let mut now_active = BTreeMap::new();
        for (participant, window) in self.windows.drain() {
            let share = window.loud as f32 / window.packets.max(1) as f32;
            if window.packets > 0 && share >= ACTIVE_SHARE {
                let level = window.loud_level / window.loud.max(1) as f32;
                now_active.insert(participant, level);
            }
        }
        let mut changes: Vec<proto::SpeakerInfo> = now_active
            .iter()
            .filter(|(sid, level)| {
                self.active
                    .get(*sid)
                    .is_none_or(|before| (before - **level).abs() > 0.05)
            })
            .map(|(sid, level)| proto::SpeakerInfo {
                sid: sid.clone(),
                level: *level,
                active: true,
            })
            .collect();
        changes.extend(
            self.active
                .keys()
                .filter(|sid| !now_active.contains_key(*sid))
                .map(|sid| proto::SpeakerInfo {
                    sid: sid.clone(),
                    level: 0.0,
                    active: false,
                }),
        );
        // Keep reporting while someone speaks; go quiet once everyone stopped.
        self.next_report = (!now_active.is_empty()).then_some(now + REPORT_INTERVAL);
        self.active = now_active;
        Some(changes)
    }
}

/// -dBov to a 0..1 amplitude, as LiveKit reports speaker levels.
fn linear(level_dbov: i8) -> f32 {
    10f32.powf(-f32::from(level_dbov) / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speak(detector: &mut SpeakerDetector, now: Instant, who: &str, level: i8, packets: u32) {
        for _ in 0..packets {
            detector.observe(now, who, level);
        }
    }

    #[test]
    fn a_loud_participant_becomes_active_and_later_inactive() {
        let mut detector = SpeakerDetector::new();
        let start = Instant::now();
        assert_eq!(detector.report(start), None);
        speak(&mut detector, start, "PA_ada", -20, 25);
        speak(&mut detector, start, "PA_bob", -127, 25);
        assert_eq!(detector.report(start), None, "not due yet");

        let first = start + REPORT_INTERVAL;
        let changes = detector.report(first).expect("due");
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].sid, "PA_ada");
        assert!(changes[0].active);
        assert!(
            (changes[0].level - 0.1).abs() < 0.01,
            "{}",
            changes[0].level
        );

        // Same level again: nothing changed, nothing reported.
        speak(&mut detector, first, "PA_ada", -20, 25);
        let second = first + REPORT_INTERVAL;
        assert_eq!(detector.report(second), Some(vec![]));

        // Silence: ada stops being active, then reports stop.
        speak(&mut detector, second, "PA_ada", -127, 25);
        let third = second + REPORT_INTERVAL;
        let changes = detector.report(third).expect("due");
        assert_eq!(changes.len(), 1);
        assert!(!changes[0].active);
        assert_eq!(detector.next_report(), None);
    }

    #[test]
    fn occasional_noise_is_not_speech() {
        let mut detector = SpeakerDetector::new();
        let start = Instant::now();
        speak(&mut detector, start, "PA_ada", -10, 5);
        speak(&mut detector, start, "PA_ada", -100, 20);
        assert_eq!(detector.report(start + REPORT_INTERVAL), Some(vec![]));
    }
}
