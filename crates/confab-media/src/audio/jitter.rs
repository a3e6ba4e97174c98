//! The adaptive jitter buffer in front of each remote voice, sans-IO: packets go in with their
//! arrival time, and the playout clock takes 20 ms frames out, saying whether to decode a
//! packet, rebuild a lost one from the next packet's FEC or conceal it (PLC), or that there is
//! nothing to play yet. While a voice plays the clock asks every 20 ms; while it is silent the
//! clock may ask more often (every 10 ms tick of the speaker), so a talk spurt starts within a
//! tick of its first packet instead of a frame.
//!
//! It holds as much audio as the network's recent jitter needs (the 95th percentile of how
//! late packets arrived against the fastest one in the last 5 s, plus a margin), and no more:
//! a buffer that grew (after a network stall) drops frames until it is back near its target.
//! When it runs dry it conceals without moving on, so a late packet still plays; a packet
//! that comes after its turn was concealed is dropped.
//!
//! It also shrinks when it holds more than the network needs: when every packet of the last
//! second waited a frame and a margin longer than it had to (the playout clock and the
//! network's settled after the cautious start, or after a delay spike passed), one frame is
//! skipped, at a quiet moment when one comes within a few seconds. Audio waits in the buffer
//! between a margin and a frame more than its lateness, and no longer.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::audio::opus::{FRAME_DURATION, FRAME_SAMPLES};

/// Lost frames in a row that are concealed; after that the voice fades to silence.
pub const MAX_CONCEALED_RUN: u32 = 5;
/// Packets whose lateness the target is computed from (5 s of 20 ms frames).
const JITTER_WINDOW: usize = 250;
/// The target before enough packets were seen to measure the network.
const INITIAL_TARGET: Duration = Duration::from_millis(40);
const MAX_TARGET: Duration = Duration::from_millis(300);
/// Added to the measured jitter: room for one more packet's wobble.
const TARGET_MARGIN: Duration = Duration::from_millis(10);
const MIN_TARGET: Duration = TARGET_MARGIN;
/// Played packets whose waiting times decide whether the buffer can shrink (one second).
const SLACK_WINDOW: usize = 50;
/// Frames the buffer waits for a quiet one to skip, once it could shrink (two seconds);
/// after that it skips the next one anyway.
const SHRINK_PATIENCE: u32 = 100;
/// Frames above the target the buffer may hold before it drops one to catch up.
const EXCESS_FRAMES: u64 = 2;
/// A packet this many frames ahead of the playout position means the stream restarted.
const RESTART_FRAMES: u64 = 50;

/// What to play next: a 20 ms frame, or silence until the clock asks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode this packet.
    Packet(Vec<u8>),
    /// This frame was lost; rebuild it from the FEC in this (the following) packet.
    Fec(Vec<u8>),
    /// This frame is missing and nothing can rebuild it: run the decoder's concealment.
    Conceal,
    /// Nothing to play now: before the first packet, or after a gap longer than concealment
    /// covers. Covers only the caller's own tick; ask again at the next one.
    Silence,
}

/// What the buffer did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub played: u64,
    pub rebuilt_from_fec: u64,
    pub concealed: u64,
    /// Pops that found nothing to play (each the caller's tick long).
    pub silent: u64,
    /// Arrived after their turn had been concealed.
    pub late: u64,
    /// Dropped to bring the delay back down (after a burst, or while shrinking).
    pub dropped: u64,
    pub duplicates: u64,
}

#[derive(Debug)]
pub struct JitterBuffer {
    /// Waiting packets by frame number (RTP time / 960).
    packets: BTreeMap<u64, Waiting>,
    /// The frame the next `pop` plays; `None` until playout starts.
    next: Option<u64>,
    /// When the first packet after a (re)start arrived: playout begins a target later.
    primed_at: Option<Instant>,
    /// `pop`s in a row that found the buffer empty, up to one more than the frames concealed
    /// ([`MAX_CONCEALED_RUN`]): from there on the voice has gone quiet.
    dry_pops: u32,
    /// The frame the last `pop` played or stood in for.
    last_frame: Option<u64>,
    lateness: Lateness,
    slack: Slack,
    stats: JitterStats,
}

#[derive(Debug)]
struct Waiting {
    payload: Vec<u8>,
    arrival: Instant,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl JitterBuffer {
    pub fn new() -> Self {
        Self {
            packets: BTreeMap::new(),
            next: None,
            primed_at: None,
            dry_pops: 0,
            last_frame: None,
            lateness: Lateness::default(),
            slack: Slack::default(),
            stats: JitterStats::default(),
        }
    }

    /// A packet of 20 ms, stamped `rtp_time` (48 kHz, unwrapped), arrived at `arrival`.
    pub fn push(&mut self, rtp_time: u64, payload: Vec<u8>, arrival: Instant) {
        let frame = rtp_time / FRAME_SAMPLES as u64;
        if let Some(next) = self.next
            && (frame >= next + RESTART_FRAMES || frame + RESTART_FRAMES <= next)
        {
            tracing::debug!(frame, next, "audio stream jumped; restarting playout");
            self.restart();
        }
        // Late packets count too: they are what the target has to cover.
        self.lateness.observe(frame, arrival);
        if self.next.is_some_and(|next| frame < next) {
            self.stats.late += 1;
            return;
        }
        if self
            .packets
            .insert(frame, Waiting { payload, arrival })
            .is_some()
        {
            self.stats.duplicates += 1;
        }
        self.primed_at.get_or_insert(arrival);
    }

    /// What to play at `now`: a frame (20 ms, the clock asks again when it has played it) or
    /// silence (the clock asks again at its next tick).
    pub fn pop(&mut self, now: Instant) -> Playout {
        self.last_frame = None;
        let Some(next) = self.next.or_else(|| self.start(now)) else {
            self.stats.silent += 1;
            return Playout::Silence;
        };
        self.drop_excess(next);
        self.shrink_if_due();
        let next = self.next.unwrap_or(next);
        self.last_frame = Some(next);
        if let Some(packet) = self.packets.remove(&next) {
            return self.advance(next, packet, now);
        }
        let Some((&first_waiting, _)) = self.packets.first_key_value() else {
            // Dry: conceal in place, so the packet can still play if it is only late.
            self.dry_pops = (self.dry_pops + 1).min(MAX_CONCEALED_RUN + 1);
            return if self.dry_pops <= MAX_CONCEALED_RUN {
                self.stats.concealed += 1;
                Playout::Conceal
            } else {
                self.stats.silent += 1;
                self.last_frame = None;
                Playout::Silence
            };
        };
        let gone_quiet = self.dry_pops > MAX_CONCEALED_RUN;
        if gone_quiet || first_waiting - next <= u64::from(self.dry_pops) {
            // The frames before it already had their time (concealed while dry), or the voice
            // paused (DTX) and this starts its next talk spurt: play it now.
            if let Some(packet) = self.packets.remove(&first_waiting) {
                return self.advance(first_waiting, packet, now);
            }
        }
        // Lost: rebuild from the next packet's FEC when it is here, otherwise conceal.
        match self.packets.get(&(next + 1)) {
            Some(following) => {
                let following = following.payload.clone();
                self.stats.rebuilt_from_fec += 1;
                self.next = Some(next + 1);
                self.dry_pops = 0;
                Playout::Fec(following)
            }
            None => {
                self.stats.concealed += 1;
                self.next = Some(next + 1);
                Playout::Conceal
            }
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The frame number (RTP time / 960) the last `pop` played or stood in for; `None` for
    /// silence. A measurement can put each 20 ms played back where the sender had it.
    pub fn last_frame(&self) -> Option<u64> {
        self.last_frame
    }

    /// How long audio waits here before it plays, as the buffer aims for now.
    pub fn target_delay(&self) -> Duration {
        self.lateness.target()
    }

    /// How long the last packet played had waited here since it arrived.
    pub fn last_wait(&self) -> Option<Duration> {
        self.slack.waits.back().copied()
    }

    /// The audio just played was quiet: a good moment to skip a frame, if the buffer is due
    /// to shrink.
    pub fn played_quiet(&mut self) {
        self.slack.quiet = true;
    }

    /// Frames waiting, counted from the playout position to the newest packet.
    pub fn depth_frames(&self) -> u64 {
        match (self.next, self.packets.last_key_value()) {
            (Some(next), Some((&newest, _))) => (newest + 1).saturating_sub(next),
            (None, _) => self.packets.len() as u64,
            (_, None) => 0,
        }
    }

    fn start(&mut self, now: Instant) -> Option<u64> {
        let primed_at = self.primed_at?;
        if now.saturating_duration_since(primed_at) < self.target_delay() {
            return None;
        }
        let first = *self.packets.first_key_value()?.0;
        self.next = Some(first);
        Some(first)
    }

    fn advance(&mut self, played: u64, packet: Waiting, now: Instant) -> Playout {
        self.stats.played += 1;
        self.last_frame = Some(played);
        self.next = Some(played + 1);
        self.dry_pops = 0;
        self.slack
            .observe(now.saturating_duration_since(packet.arrival));
        Playout::Packet(packet.payload)
    }

    /// Drops the oldest frame when more than the target (and a little) waits. Counts only a
    /// frame that is here: after a pause (DTX) the playout position still points into the
    /// pause, and moving it on drops nothing (the first packet back plays at once).
    fn drop_excess(&mut self, next: u64) {
        let target_frames = self
            .target_delay()
            .as_millis()
            .div_ceil(FRAME_DURATION.as_millis());
        if self.depth_frames() > target_frames as u64 + EXCESS_FRAMES {
            if self.packets.remove(&next).is_some() {
                self.stats.dropped += 1;
            }
            self.next = Some(next + 1);
        }
    }

    /// Skips the next frame when the buffer has been holding a frame more than it needs (and
    /// the frame after it is here, so the skip leaves no gap): everything after it plays a
    /// frame sooner.
    fn shrink_if_due(&mut self) {
        let Some(next) = self.next else { return };
        if self.packets.contains_key(&next)
            && self.packets.contains_key(&(next + 1))
            && self.slack.shrink_now(self.lateness.target())
        {
            self.packets.remove(&next);
            self.stats.dropped += 1;
            self.next = Some(next + 1);
        }
    }

    fn restart(&mut self) {
        self.packets.clear();
        self.next = None;
        self.primed_at = None;
        self.dry_pops = 0;
        self.lateness = Lateness::default();
        self.slack = Slack::default();
    }
}

/// How long the recently played packets waited here, and whether that was more than needed.
#[derive(Debug, Default)]
struct Slack {
    /// Waits of the packets played since the buffer last shrank (at most a window's worth).
    waits: VecDeque<Duration>,
    /// Frames played since a shrink became due; `None` while it is not due.
    due_for: Option<u32>,
    /// The last frame played was quiet.
    quiet: bool,
}

impl Slack {
    fn observe(&mut self, wait: Duration) {
        if self.waits.len() == SLACK_WINDOW {
            self.waits.pop_front();
        }
        self.waits.push_back(wait);
    }

    /// Whether to skip a frame now: a whole window of packets each waited at least a frame
    /// and a margin (so each would still have come in time a frame later), the longest of
    /// them a frame more than the target, and this is a quiet moment (or the buffer has
    /// waited long enough for one).
    fn shrink_now(&mut self, target: Duration) -> bool {
        let quiet = std::mem::take(&mut self.quiet);
        let (Some(&shortest), Some(&longest)) = (self.waits.iter().min(), self.waits.iter().max())
        else {
            return false;
        };
        let spare = self.waits.len() == SLACK_WINDOW
            && shortest >= FRAME_DURATION + TARGET_MARGIN
            && longest >= target + FRAME_DURATION;
        if !spare {
            self.due_for = None;
            return false;
        }
        let waited = self.due_for.get_or_insert(0);
        *waited += 1;
        if quiet || *waited > SHRINK_PATIENCE {
            // The waits seen so far were all a frame longer than they will be: start over.
            self.waits.clear();
            self.due_for = None;
            return true;
        }
        false
    }
}

/// How late packets arrive compared with the fastest one of the last few seconds.
#[derive(Debug, Default)]
struct Lateness {
    /// (frame number, arrival) of the last `JITTER_WINDOW` packets.
    recent: VecDeque<(u64, Instant)>,
}

impl Lateness {
    fn observe(&mut self, frame: u64, arrival: Instant) {
        if self.recent.len() == JITTER_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back((frame, arrival));
    }

    fn target(&self) -> Duration {
        if self.recent.len() < 25 {
            return INITIAL_TARGET;
        }
        let Some(&(first_frame, first_arrival)) = self.recent.front() else {
            return INITIAL_TARGET;
        };
        // Transit time of each packet relative to the window's first, in ms (may be negative).
        let frame_ms = FRAME_DURATION.as_secs_f64() * 1000.0;
        let transit: Vec<f64> = self
            .recent
            .iter()
            .map(|&(frame, arrival)| {
                let sent_ms = (frame as f64 - first_frame as f64) * frame_ms;
                let arrived_ms = signed_ms(arrival, first_arrival);
                arrived_ms - sent_ms
            })
            .collect();
        let fastest = transit.iter().copied().fold(f64::INFINITY, f64::min);
        let mut lateness: Vec<f64> = transit.iter().map(|t| t - fastest).collect();
        lateness.sort_by(f64::total_cmp);
        let p95 = lateness[(lateness.len() * 95 / 100).min(lateness.len() - 1)];
        (Duration::from_secs_f64(p95 / 1000.0) + TARGET_MARGIN).clamp(MIN_TARGET, MAX_TARGET)
    }
}

fn signed_ms(at: Instant, origin: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(after) => after.as_secs_f64() * 1000.0,
        None => -(origin.duration_since(at).as_secs_f64() * 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = FRAME_DURATION;

    fn rtp(frame: u64) -> u64 {
        // Streams start at a random RTP time; frames keep its offset.
        1_000_000 * FRAME_SAMPLES as u64 + 123 + frame * FRAME_SAMPLES as u64
    }

    fn packet(frame: u64) -> Vec<u8> {
        frame.to_be_bytes().to_vec()
    }

    fn frame_of(playout: &Playout) -> Option<u64> {
        match playout {
            Playout::Packet(bytes) | Playout::Fec(bytes) => {
                Some(u64::from_be_bytes(bytes.as_slice().try_into().ok()?))
            }
            _ => None,
        }
    }

    /// Delivers `frames` at their send time plus `delay_ms(frame)`, pops every 20 ms, and
    /// returns every playout with the frame it played.
    fn run(
        frames: impl IntoIterator<Item = u64>,
        delay_ms: impl Fn(u64) -> u64,
        pops: usize,
    ) -> (Vec<Playout>, JitterBuffer) {
        run_with_pauses(frames, delay_ms, |_| false, pops)
    }

    /// [`run`], telling the buffer after each frame played whether it was quiet.
    fn run_with_pauses(
        frames: impl IntoIterator<Item = u64>,
        delay_ms: impl Fn(u64) -> u64,
        quiet: impl Fn(u64) -> bool,
        pops: usize,
    ) -> (Vec<Playout>, JitterBuffer) {
        let start = Instant::now();
        let mut arrivals: Vec<(Instant, u64)> = frames
            .into_iter()
            .map(|f| {
                (
                    start + TICK * f as u32 + Duration::from_millis(delay_ms(f)),
                    f,
                )
            })
            .collect();
        arrivals.sort();
        let mut buffer = JitterBuffer::new();
        let mut arrivals = arrivals.into_iter().peekable();
        let mut out = Vec::new();
        for pop in 0..pops {
            // Pops are 1 ms after each 20 ms tick, so packets sent on the tick are there.
            let now = start + TICK * pop as u32 + Duration::from_millis(1);
            while let Some((at, frame)) = arrivals.next_if(|(at, _)| *at <= now) {
                buffer.push(rtp(frame), packet(frame), at);
            }
            let playout = buffer.pop(now);
            if matches!(playout, Playout::Packet(_)) && frame_of(&playout).is_some_and(&quiet) {
                buffer.played_quiet();
            }
            out.push(playout);
        }
        (out, buffer)
    }

    fn played_frames(out: &[Playout]) -> Vec<u64> {
        out.iter()
            .filter(|p| matches!(p, Playout::Packet(_)))
            .filter_map(frame_of)
            .collect()
    }

    #[test]
    fn a_steady_stream_plays_in_order_after_the_initial_delay() {
        let (out, buffer) = run(0..100, |_| 5, 100);
        let silent_at_start = out.iter().take_while(|p| **p == Playout::Silence).count();
        // 40 ms of initial target: two or three ticks of silence, then every frame.
        assert!((2..=3).contains(&silent_at_start), "{silent_at_start}");
        let played = played_frames(&out);
        assert_eq!(played, (0..played.len() as u64).collect::<Vec<_>>());
        assert!(played.len() >= 96);
        let stats = buffer.stats();
        assert_eq!(stats.concealed + stats.rebuilt_from_fec + stats.late, 0);
    }

    #[test]
    fn a_buffer_holding_more_than_the_network_needs_shrinks() {
        // 5 ms of transit and no jitter: the cautious start holds each packet 56 ms; without
        // a quiet moment the buffer still shrinks, a frame at a time, after its patience.
        let (out, buffer) = run(0..600, |_| 5, 600);
        let stats = buffer.stats();
        assert_eq!(stats.dropped, 2, "{stats:?}");
        assert_eq!(stats.concealed + stats.rebuilt_from_fec + stats.late, 0);
        let wait = buffer.last_wait().expect("a packet played");
        assert_eq!(wait, Duration::from_millis(16));
        let played = played_frames(&out);
        assert!(played.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn it_shrinks_at_a_quiet_moment_when_one_comes() {
        // Frames 70, 71, … are a pause: the first skip comes right after frame 70 (not after
        // the patience), the second one a window later, and the skipped frames are pauses.
        let quiet = |frame: u64| frame >= 70;
        let (out, buffer) = run_with_pauses(0..200, |_| 5, quiet, 200);
        assert_eq!(buffer.stats().dropped, 2);
        let played = played_frames(&out);
        let skipped: Vec<u64> = (0..*played.last().expect("played"))
            .filter(|frame| !played.contains(frame))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0], 71);
        assert!(skipped.iter().all(|&frame| quiet(frame - 1)), "{skipped:?}");
        assert_eq!(buffer.last_wait(), Some(Duration::from_millis(16)));
    }

    #[test]
    fn reordered_packets_play_in_order() {
        // Odd frames overtake the even ones before them by 15 ms.
        let (out, buffer) = run(0..100, |f| if f % 2 == 0 { 20 } else { 5 }, 103);
        let played = played_frames(&out);
        assert_eq!(played, (0..100).collect::<Vec<_>>());
        assert_eq!(buffer.stats().concealed, 0);
    }

    #[test]
    fn a_lost_frame_is_rebuilt_from_fec_and_two_are_concealed_then_rebuilt() {
        let lost = [30, 60, 61];
        // Frame 99 plays on the 103rd tick; later ticks would conceal the stream's end.
        let (out, buffer) = run((0..100).filter(|f| !lost.contains(f)), |_| 5, 103);
        let position = |frame| {
            out.iter()
                .position(|p| frame_of(p) == Some(frame) && matches!(p, Playout::Packet(_)))
                .expect("played")
        };
        assert_eq!(out[position(31) - 1], Playout::Fec(packet(31)));
        assert_eq!(out[position(62) - 1], Playout::Fec(packet(62)));
        assert_eq!(out[position(62) - 2], Playout::Conceal);
        let stats = buffer.stats();
        assert_eq!((stats.rebuilt_from_fec, stats.concealed), (2, 1));
        assert_eq!(stats.played, 97);
    }

    #[test]
    fn the_target_grows_with_jitter_and_covers_it() {
        // Every packet 0 to 60 ms late, from a fixed pseudo-random sequence.
        let jitter = |f: u64| (f.wrapping_mul(2_654_435_761) >> 7) % 61;
        let (out, buffer) = run(0..1000, jitter, 1010);
        let target = buffer.target_delay();
        assert!(
            (Duration::from_millis(60)..=Duration::from_millis(80)).contains(&target),
            "{target:?}"
        );
        // Once the target has grown (the first second), almost nothing is lost to lateness.
        let stats = buffer.stats();
        let settled = &out[100..];
        let gaps = settled
            .iter()
            .filter(|p| matches!(p, Playout::Conceal | Playout::Fec(_)))
            .count();
        assert!(gaps * 100 < settled.len() * 3, "{gaps} gaps, {stats:?}");
        // And the delay stays near the target instead of growing.
        assert!(buffer.depth_frames() <= 6, "{}", buffer.depth_frames());
    }

    #[test]
    fn a_packet_after_its_turn_is_dropped_as_late() {
        // Frame 40 comes 200 ms late: its turn was concealed (the next frame's FEC).
        let (out, buffer) = run(0..100, |f| if f == 40 { 200 } else { 5 }, 110);
        assert!(!played_frames(&out).contains(&40));
        assert_eq!(buffer.stats().late, 1);
        assert_eq!(buffer.stats().rebuilt_from_fec, 1);
    }

    #[test]
    fn a_pause_fades_to_silence_and_resumes_without_added_delay() {
        // DTX or a muted sender: nothing for frames 50..150 (2 s), then the stream resumes.
        let frames = (0..50).chain(150..200);
        let (out, _) = run(frames, |_| 5, 200);
        let pause = &out[60..145];
        let concealed = pause.iter().filter(|p| **p == Playout::Conceal).count();
        assert!(concealed <= MAX_CONCEALED_RUN as usize);
        assert!(pause.iter().skip(10).all(|p| *p == Playout::Silence));
        let resumed = out
            .iter()
            .position(|p| frame_of(p) == Some(150))
            .expect("frame 150 played");
        // Frame 150 is sent at tick 150 and plays within the target delay.
        assert!((150..=153).contains(&resumed), "{resumed}");
    }

    #[test]
    fn speech_after_a_short_pause_plays_whole() {
        // DTX between words: nothing for frames 40..60 (400 ms), then speech again.
        let frames = (0..40).chain(60..120);
        let (out, buffer) = run(frames, |_| 5, 130);
        let played = played_frames(&out);
        assert!((60..115).all(|f| played.contains(&f)), "{played:?}");
        assert_eq!(buffer.stats().dropped, 0, "{:?}", buffer.stats());
    }

    #[test]
    fn a_burst_after_a_stall_is_trimmed_back_to_the_target() {
        // The network holds frames 100..110 and delivers them at once, with frame 110.
        let held = |f: u64| {
            if (100..110).contains(&f) {
                205 - (f - 100) * 20
            } else {
                5
            }
        };
        let (out, buffer) = run(0..300, held, 300);
        assert!(buffer.stats().dropped > 0);
        assert!(buffer.depth_frames() <= 4, "{}", buffer.depth_frames());
        assert!(played_frames(&out).contains(&290));
    }

    #[test]
    fn a_stream_that_jumps_ahead_restarts() {
        let mut buffer = JitterBuffer::new();
        let start = Instant::now();
        for frame in 0..10 {
            buffer.push(rtp(frame), packet(frame), start + TICK * frame as u32);
        }
        let mut now = start + Duration::from_millis(50);
        while buffer.pop(now) != Playout::Packet(packet(9)) {
            now += TICK;
        }
        // A new stream (the sender restarted): 10 000 frames later.
        buffer.push(rtp(10_000), packet(10_000), now);
        now += INITIAL_TARGET + TICK;
        assert_eq!(buffer.pop(now), Playout::Packet(packet(10_000)));
    }
}
