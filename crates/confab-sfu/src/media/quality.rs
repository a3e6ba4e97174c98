//! Connection quality per participant, from the loss and round-trip time str0m measures on its
//! peer connections (RTCP receiver reports): reported to the room as
//! `connection_quality` when it changes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use livekit_protocol as proto;

/// How often quality is re-evaluated.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(2);

/// The worst of what was measured for a participant in the current window.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    loss: f32,
    rtt: Duration,
}

#[derive(Debug, Default)]
pub struct QualityMonitor {
    windows: HashMap<String, Window>,
    reported: HashMap<String, proto::ConnectionQuality>,
    next_report: Option<Instant>,
}

impl QualityMonitor {
    /// A measurement on one of the participant's connections (`loss` as a fraction).
    pub fn observe(
        &mut self,
        now: Instant,
        participant: &str,
        loss: Option<f32>,
        rtt: Option<Duration>,
    ) {
        let window = self.windows.entry(participant.to_owned()).or_default();
        if let Some(loss) = loss.filter(|l| l.is_finite()) {
            window.loss = window.loss.max(loss.clamp(0.0, 1.0));
        }
        if let Some(rtt) = rtt {
            window.rtt = window.rtt.max(rtt);
        }
        self.next_report.get_or_insert(now + REPORT_INTERVAL);
    }

    pub fn forget(&mut self, participant: &str) {
        self.windows.remove(participant);
        self.reported.remove(participant);
    }

    pub fn next_report(&self) -> Option<Instant> {
        self.next_report
    }

    /// Closes the window: the participants whose quality changed. `None` when not due.
    pub fn report(&mut self, now: Instant) -> Option<Vec<proto::ConnectionQualityInfo>> {
        if self.next_report.is_none_or(|at| at > now) {
            return None;
        }
        let mut changes = Vec::new();
        for (participant, window) in self.windows.drain() {
            let (quality, score) = rate(window);
            if self.reported.get(&participant) != Some(&quality) {
                self.reported.insert(participant.clone(), quality);
                changes.push(proto::ConnectionQualityInfo {
                    participant_sid: participant,
                    quality: quality as i32,
                    score,
                });
            }
        }
        changes.sort_by(|a, b| a.participant_sid.cmp(&b.participant_sid));
        self.next_report = None;
        Some(changes)
    }
}

/// Quality and a MOS-like score (1–5) from loss and round-trip time.
fn rate(window: Window) -> (proto::ConnectionQuality, f32) {
    let rtt_ms = window.rtt.as_millis();
    if window.loss < 0.02 && rtt_ms < 300 {
        (proto::ConnectionQuality::Excellent, 4.5)
    } else if window.loss < 0.08 && rtt_ms < 600 {
        (proto::ConnectionQuality::Good, 3.5)
    } else {
        (proto::ConnectionQuality::Poor, 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_follows_loss_and_is_reported_when_it_changes() {
        let mut monitor = QualityMonitor::default();
        let start = Instant::now();
        let rtt = Some(Duration::from_millis(20));
        monitor.observe(start, "PA_a", Some(0.0), rtt);
        monitor.observe(start, "PA_b", Some(0.05), rtt);
        assert_eq!(monitor.report(start), None, "not due yet");
        let first = monitor.report(start + REPORT_INTERVAL).expect("due");
        let qualities: Vec<(String, i32)> = first
            .iter()
            .map(|info| (info.participant_sid.clone(), info.quality))
            .collect();
        assert_eq!(
            qualities,
            [
                ("PA_a".into(), proto::ConnectionQuality::Excellent as i32),
                ("PA_b".into(), proto::ConnectionQuality::Good as i32)
            ]
        );
        assert_eq!(monitor.next_report(), None, "quiet until measured again");

        let later = start + 2 * REPORT_INTERVAL;
        monitor.observe(later, "PA_a", Some(0.0), rtt);
        monitor.observe(later, "PA_b", Some(0.3), rtt);
        let second = monitor.report(later + REPORT_INTERVAL).expect("due");
        assert_eq!(second.len(), 1, "only the change");
        assert_eq!(second[0].quality, proto::ConnectionQuality::Poor as i32);
    }

    #[test]
    fn a_long_round_trip_is_not_excellent() {
        let window = Window {
            loss: 0.0,
            rtt: Duration::from_millis(450),
        };
        assert_eq!(rate(window).0, proto::ConnectionQuality::Good);
    }
}
