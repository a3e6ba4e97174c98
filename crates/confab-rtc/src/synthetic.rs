//! Synthetic encoded media with a frame counter in the bytes, so a receiver can tell that
//! frames arrive, in order, and from which layer — without codecs. For tests, benchmarks and
//! `confab join --synthetic-media`; real capture and encoding live in `confab-media`.
//!
//! Video frames are shaped as VP8 keyframes (frame tag with the key bit clear, start code,
//! size), so every SFU treats each one as a switching point; audio frames start with an Opus
//! TOC byte. The counter sits at a fixed offset after that header. Decoders reject them: they
//! are for Confab-to-Confab paths only.

use std::time::{Duration, Instant};

use crate::room::{EncodedFrame, Layer, LocalTrack};
use tokio::task::JoinHandle;

/// Where the counter starts in a video frame (after the 10-byte VP8 keyframe header).
const VIDEO_COUNTER_AT: usize = 10;
/// Where the counter starts in an audio frame (after the TOC byte).
const AUDIO_COUNTER_AT: usize = 1;
/// Bigger than one RTP packet, so frames are split and reassembled.
const VIDEO_FRAME_BYTES: usize = 3000;
const AUDIO_FRAME_BYTES: usize = 80;
/// What fills a frame after its header and counter.
const MARKER: u8 = 0xC5;
/// VP8's keyframe start code, at bytes 3..6.
pub const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];
/// A video frame's header, counter and layer byte.
const VIDEO_HEADER_AND_COUNTER: usize = VIDEO_COUNTER_AT + 5;

pub fn video_frame(counter: u32, layer: Option<Layer>, started: Instant) -> EncodedFrame {
    let mut data = vec![MARKER; VIDEO_FRAME_BYTES];
    // Frame tag: key frame (bit 0 clear), version 0, shown, first partition size.
    data[..3].copy_from_slice(&[0x10, 0x02, 0x00]);
    data[3..6].copy_from_slice(&VP8_START_CODE);
    data[6..8].copy_from_slice(&320u16.to_le_bytes());
    data[8..10].copy_from_slice(&180u16.to_le_bytes());
    data[VIDEO_COUNTER_AT..VIDEO_COUNTER_AT + 4].copy_from_slice(&counter.to_le_bytes());
    data[VIDEO_COUNTER_AT + 4] = layer.map_or(0xff, |l| l as u8);
    EncodedFrame {
        data,
        timestamp: Duration::from_millis(u64::from(counter) * 33),
        captured_at: started + Duration::from_millis(u64::from(counter) * 33),
        layer,
        audio_level: None,
    }
}

pub fn audio_frame(counter: u32, started: Instant) -> EncodedFrame {
    let mut data = vec![MARKER; AUDIO_FRAME_BYTES];
    data[0] = 0x78; // Opus TOC: SILK+CELT hybrid, 20 ms, mono, one frame.
    data[AUDIO_COUNTER_AT..AUDIO_COUNTER_AT + 4].copy_from_slice(&counter.to_le_bytes());
    EncodedFrame {
        data,
        timestamp: Duration::from_millis(u64::from(counter) * 20),
        captured_at: started + Duration::from_millis(u64::from(counter) * 20),
        layer: None,
        audio_level: Some(30),
    }
}

/// The counter of a received video frame, if it is one of ours, and the layer it came from.
pub fn video_counter(data: &[u8]) -> Option<(u32, u8)> {
    let bytes = data.get(VIDEO_COUNTER_AT..VIDEO_HEADER_AND_COUNTER)?;
    (data.len() == VIDEO_FRAME_BYTES && data[3..6] == VP8_START_CODE).then(|| {
        (
            u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            bytes[4],
        )
    })
}

/// The head of one of our video frames without the rest (one or two packets' worth), which a
/// receiver's depacketizer emits when the packets after it on the stream, with contiguous
/// sequence numbers, are not the rest of that frame. A frame cut short is the server's doing,
/// not one out of order.
pub fn is_cut_short_video_frame(data: &[u8]) -> bool {
    data.len() > VIDEO_HEADER_AND_COUNTER
        && data.len() < VIDEO_FRAME_BYTES
        && data[3..6] == VP8_START_CODE
        && data[VIDEO_HEADER_AND_COUNTER..]
            .iter()
            .all(|&byte| byte == MARKER)
}

/// A received video frame's size, first bytes and where it departs from our fill after the
/// header and counter: what a test says of a frame it cannot place.
pub fn describe_video_frame(data: &[u8]) -> String {
    let foreign: Vec<(usize, u8)> = data
        .iter()
        .copied()
        .enumerate()
        .skip(VIDEO_HEADER_AND_COUNTER)
        .filter(|(_, byte)| *byte != MARKER)
        .take(24)
        .collect();
    format!(
        "{} bytes starting {:02x?}, not fill at {foreign:?}",
        data.len(),
        &data[..data.len().min(16)]
    )
}

pub fn audio_counter(data: &[u8]) -> Option<u32> {
    let bytes = data.get(AUDIO_COUNTER_AT..AUDIO_COUNTER_AT + 4)?;
    (data.len() == AUDIO_FRAME_BYTES && data[0] == 0x78)
        .then(|| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Sends frames in real time (paced by a timer: this is a media source, not a wait): 30 fps
/// video on every layer given, each frame a keyframe, until the task is aborted.
pub fn stream_video(track: LocalTrack, layers: Vec<Option<Layer>>) -> JoinHandle<()> {
    stream_video_frames(track, layers, Keyframes::Always)
}

/// [`stream_video`] as a real encoder sends once its first keyframe is past: a keyframe only
/// when the track's feedback counts a new keyframe request (PLI/FIR), every other frame a
/// delta frame, which a receiver can only use after a keyframe of its layer. So a receiver
/// that gets any frame proves the keyframe requests along its path work.
pub fn stream_video_keyframes_on_request(
    track: LocalTrack,
    layers: Vec<Option<Layer>>,
) -> JoinHandle<()> {
    stream_video_frames(track, layers, Keyframes::OnRequest)
}

#[derive(Clone, Copy)]
enum Keyframes {
    Always,
    OnRequest,
}

fn stream_video_frames(
    track: LocalTrack,
    layers: Vec<Option<Layer>>,
    keyframes: Keyframes,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let feedback = track.feedback();
        let mut requests_answered = 0;
        let mut ticks = tokio::time::interval(Duration::from_millis(33));
        for counter in 0u32.. {
            ticks.tick().await;
            let requests = feedback.borrow().keyframe_requests;
            let keyframe = match keyframes {
                Keyframes::Always => true,
                Keyframes::OnRequest => requests != requests_answered,
            };
            requests_answered = requests;
            for layer in &layers {
                let mut frame = video_frame(counter, *layer, started);
                if !keyframe {
                    // Frame tag bit 0 set: an inter frame.
                    frame.data[0] |= 0x01;
                }
                if track.send(frame).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// Sends 50 fps audio frames in real time until the task is aborted.
pub fn stream_audio(track: LocalTrack) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut ticks = tokio::time::interval(Duration::from_millis(20));
        for counter in 0u32.. {
            ticks.tick().await;
            if track.send(audio_frame(counter, started)).await.is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_cut_short_is_told_from_a_whole_one_and_from_other_bytes() {
        let whole = video_frame(7, Some(Layer::Low), Instant::now()).data;
        assert_eq!(video_counter(&whole), Some((7, Layer::Low as u8)));
        assert!(!is_cut_short_video_frame(&whole));
        let head = &whole[..1150];
        assert_eq!(video_counter(head), None);
        assert!(is_cut_short_video_frame(head));
        let mut foreign = head.to_vec();
        foreign[500] = 0;
        assert!(!is_cut_short_video_frame(&foreign));
        assert!(!is_cut_short_video_frame(
            &whole[..VIDEO_HEADER_AND_COUNTER]
        ));
    }
}
