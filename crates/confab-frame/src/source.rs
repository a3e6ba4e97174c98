//! Where video frames come from: a camera, a screen, or the synthetic test pattern, all behind
//! one trait so the rest of the pipeline cannot tell them apart.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::i420::{I420Layout, VideoFrame};
use crate::stamp::{self, FrameStamp};

/// One captured frame.
#[derive(Debug, Clone)]
pub struct CapturedFrame {
    pub frame: VideoFrame,
    /// When it was captured (monotonic), for RTP time and sender reports.
    pub captured_at: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("the device went away: {0}")]
    Gone(String),
    #[error("capture failed: {0}")]
    Failed(String),
}

/// A source of frames. `capture` blocks until the next frame is ready, as a camera does.
pub trait VideoSource: Send {
    /// The size of the frames it produces.
    fn layout(&self) -> I420Layout;
    fn capture(&mut self) -> Result<CapturedFrame, CaptureError>;
}

/// A synthetic camera: a moving pattern with a [`FrameStamp`] (frame counter and capture time)
/// drawn in the pixels, at a steady frame rate.
#[derive(Debug)]
pub struct TestPattern {
    background: VideoFrame,
    frame_interval: Duration,
    started: Instant,
    counter: u32,
}

impl TestPattern {
    pub fn new(layout: I420Layout, fps: u32) -> Self {
        Self {
            background: background(layout),
            frame_interval: Duration::from_secs(1) / fps.max(1),
            started: Instant::now(),
            counter: 0,
        }
    }

    /// The next frame as it would be captured now, without waiting for its time.
    pub fn render(&mut self) -> CapturedFrame {
        let mut frame = self.background.clone();
        draw_moving_bar(&mut frame, self.counter);
        let captured_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u32);
        stamp::draw(
            &mut frame,
            FrameStamp {
                counter: self.counter,
                captured_ms,
            },
        );
        self.counter = self.counter.wrapping_add(1);
        CapturedFrame {
            frame,
            captured_at: Instant::now(),
        }
    }
}

impl VideoSource for TestPattern {
    fn layout(&self) -> I420Layout {
        self.background.layout()
    }

    /// Paces itself to the frame rate, like a camera's driver: the sleep is the device's
    /// clock, not a wait for another part of the program.
    /// A reader that falls more than a frame behind loses the frames it missed, as with a
    /// real camera: counters jump, timing does not drift.
    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        let now = Instant::now();
        let due = self.started + self.frame_interval * self.counter;
        match due.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            None if now.duration_since(due) > self.frame_interval => {
                let elapsed = now.duration_since(self.started).as_nanos();
                let frames = elapsed / self.frame_interval.as_nanos().max(1);
                self.counter = u32::try_from(frames).unwrap_or(u32::MAX);
            }
            None => {}
        }
        Ok(self.render())
    }
}

/// A diagonal luma gradient over coloured quadrants: texture for the encoder to work on.
fn background(layout: I420Layout) -> VideoFrame {
    let mut frame = VideoFrame::black(layout);
    let (width, height) = (layout.width as usize, layout.height as usize);
    let (chroma_width, chroma_height) = (layout.chroma_width(), layout.chroma_height());
    let (y, u, v) = frame.planes_mut();
    for (row, line) in y.chunks_exact_mut(width).enumerate() {
        for (column, pixel) in line.iter_mut().enumerate() {
            *pixel = (48 + (column * 96 / width + row * 96 / height) / 2) as u8;
        }
    }
    for row in 0..chroma_height {
        for column in 0..chroma_width {
            let right = column >= chroma_width / 2;
            let bottom = row >= chroma_height / 2;
            let at = row * chroma_width + column;
            u[at] = if right { 160 } else { 100 };
            v[at] = if bottom { 170 } else { 110 };
        }
    }
    frame
}

/// A bright vertical bar that crosses the lower three quarters once every 2 s at 30 fps.
fn draw_moving_bar(frame: &mut VideoFrame, counter: u32) {
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let bar = (width / 16).max(1);
    let left = (counter as usize % 60) * (width - bar) / 59;
    let (y, _, _) = frame.planes_mut();
    for line in y.chunks_exact_mut(width).skip(height / 4) {
        line[left..left + bar].fill(220);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::read;

    #[test]
    fn frames_count_up_and_carry_the_wall_clock() {
        let mut pattern = TestPattern::new(I420Layout::new(320, 180).expect("valid"), 30);
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        let stamps: Vec<FrameStamp> = (0..3)
            .map(|_| read(&pattern.render().frame).expect("stamp"))
            .collect();
        assert_eq!(
            stamps.iter().map(|s| s.counter).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(stamps[0].age_ms(before + 5_000) <= 5_000);
    }

    #[test]
    fn a_late_reader_skips_the_frames_it_missed() {
        let mut pattern = TestPattern::new(I420Layout::new(320, 180).expect("valid"), 1000);
        let first = read(&pattern.capture().expect("frame").frame).expect("stamp");
        // A reader busy for 20 frame intervals (the camera's clock runs on meanwhile).
        std::thread::sleep(Duration::from_millis(20));
        let next = read(&pattern.capture().expect("frame").frame).expect("stamp");
        assert_eq!(first.counter, 0);
        assert!(next.counter >= 19, "{next:?}");
    }

    #[test]
    fn the_bar_moves_between_frames() {
        let mut pattern = TestPattern::new(I420Layout::new(320, 180).expect("valid"), 30);
        let first = pattern.render().frame;
        let second = pattern.render().frame;
        let lower = |frame: &VideoFrame| frame.planes().y[320 * 170..].to_vec();
        assert_ne!(lower(&first), lower(&second));
    }
}
