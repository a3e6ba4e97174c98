//! The newest picture a desktop's capture API delivered, handed from the API's own thread (a
//! PipeWire loop, a Graphics Capture frame pool, a ScreenCaptureKit queue) to the reader that
//! converts it to I420 at each frame time.
//!
//! A new picture overwrites the last one, never queues behind it: a reader that is late gets
//! the screen as it is now, not as it was, and a still screen repeats its last picture.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use confab_frame::convert::{PackedRgb, rgb_to_i420};
use confab_frame::i420::I420Layout;
use confab_frame::source::{CaptureError, CapturedFrame};
use confab_frame::sync::lock;

/// How long a share may wait for the desktop's first picture. A compositor that copies a
/// frame only when it redraws can take a while on a still desktop.
pub const FIRST_PICTURE_TIMEOUT: Duration = Duration::from_secs(10);

/// A picture as the capture API delivered it: `height` rows `stride` bytes apart.
#[derive(Debug, Clone, Copy)]
pub struct PictureRef<'a> {
    pub pixels: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub format: PackedRgb,
}

#[derive(Debug)]
struct Picture {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
    stride: usize,
    format: PackedRgb,
    captured_at: Instant,
}

#[derive(Debug, Default)]
struct Latest {
    picture: Option<Picture>,
    /// Why the capture ended, once it has.
    ended: Option<String>,
}

/// The one-picture mailbox between a capture API's thread and the share's reader.
#[derive(Debug, Default)]
pub struct NewestPicture {
    latest: Mutex<Latest>,
    changed: Condvar,
}

impl NewestPicture {
    fn lock(&self) -> MutexGuard<'_, Latest> {
        lock(&self.latest)
    }

    /// Keeps a copy of `picture` as the newest, captured now.
    pub fn put(&self, picture: PictureRef<'_>) {
        let mut latest = self.lock();
        let kept = latest.picture.get_or_insert_with(|| Picture {
            pixels: Vec::new(),
            width: 0,
            height: 0,
            stride: 0,
            format: picture.format,
            captured_at: Instant::now(),
        });
        // The buffer is reused: a screen's picture is megabytes, thirty times a second.
        kept.pixels.clear();
        kept.pixels.extend_from_slice(picture.pixels);
        kept.width = picture.width;
        kept.height = picture.height;
        kept.stride = picture.stride;
        kept.format = picture.format;
        kept.captured_at = Instant::now();
        drop(latest);
        self.changed.notify_all();
    }

    /// Ends the capture: the reader's next frame is [`CaptureError::Gone`] with `reason`.
    /// Only the first reason counts.
    pub fn end(&self, reason: String) {
        let mut latest = self.lock();
        if latest.ended.is_none() {
            tracing::info!(%reason, "the screen capture ended");
            latest.ended = Some(reason);
        }
        drop(latest);
        self.changed.notify_all();
    }

    /// The newest picture's size, once one has arrived.
    pub fn size(&self) -> Option<(u32, u32)> {
        let latest = self.lock();
        latest
            .picture
            .as_ref()
            .map(|picture| (picture.width, picture.height))
    }

    /// The newest picture's frame size, or `provisional` before the first picture.
    pub fn layout_or(&self, provisional: I420Layout) -> I420Layout {
        self.size()
            .and_then(|(width, height)| I420Layout::new(width, height).ok())
            .unwrap_or(provisional)
    }

    /// The newest picture as an I420 frame, waiting up to [`FIRST_PICTURE_TIMEOUT`] for the
    /// first one.
    pub fn newest(&self) -> Result<CapturedFrame, CaptureError> {
        self.newest_within(FIRST_PICTURE_TIMEOUT)
    }

    fn newest_within(&self, first_picture: Duration) -> Result<CapturedFrame, CaptureError> {
        let deadline = Instant::now() + first_picture;
        let mut latest = self.lock();
        loop {
            if let Some(reason) = &latest.ended {
                return Err(CaptureError::Gone(reason.clone()));
            }
            if let Some(picture) = &latest.picture {
                return convert(picture);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(CaptureError::Failed(format!(
                    "the desktop sent no picture within {} s",
                    first_picture.as_secs()
                )));
            }
            latest = self
                .changed
                .wait_timeout(latest, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn convert(picture: &Picture) -> Result<CapturedFrame, CaptureError> {
    let frame = rgb_to_i420(
        &picture.pixels,
        picture.width,
        picture.height,
        picture.stride,
        picture.format,
    )
    .map_err(|error| CaptureError::Failed(error.to_string()))?;
    Ok(CapturedFrame {
        frame,
        captured_at: picture.captured_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn solid_bgrx(width: u32, height: u32, stride: usize, bgr: [u8; 3]) -> Vec<u8> {
        let mut pixels = vec![0u8; stride * height as usize];
        for row in pixels.chunks_exact_mut(stride) {
            for pixel in row[..width as usize * 4].chunks_exact_mut(4) {
                pixel[..3].copy_from_slice(&bgr);
            }
        }
        pixels
    }

    fn put_solid(slot: &NewestPicture, bgr: [u8; 3]) {
        let pixels = solid_bgrx(4, 2, 20, bgr);
        slot.put(PictureRef {
            pixels: &pixels,
            width: 4,
            height: 2,
            stride: 20,
            format: PackedRgb::BGRX,
        });
    }

    #[test]
    fn the_reader_gets_the_newest_picture_not_the_first() {
        let slot = NewestPicture::default();
        put_solid(&slot, [255, 0, 0]);
        put_solid(&slot, [0, 0, 255]);
        let frame = slot.newest().expect("frame").frame;
        // Red in BT.601 video range: V well above neutral, U below.
        let planes = frame.planes();
        assert!(planes.v[0] > 200 && planes.u[0] < 128, "{planes:?}");
        assert_eq!(slot.size(), Some((4, 2)));
        // A still screen repeats its picture.
        let again = slot.newest().expect("frame").frame;
        assert_eq!(again.planes(), frame.planes());
    }

    #[test]
    fn the_first_picture_wakes_a_waiting_reader() {
        let slot = Arc::new(NewestPicture::default());
        let reader = {
            let slot = Arc::clone(&slot);
            std::thread::spawn(move || slot.newest_within(Duration::from_secs(30)))
        };
        put_solid(&slot, [0, 255, 0]);
        let frame = reader.join().expect("reader").expect("frame").frame;
        assert_eq!(frame.layout().width, 4);
    }

    #[test]
    fn an_ended_capture_is_gone_for_its_reader_with_the_first_reason() {
        let slot = NewestPicture::default();
        put_solid(&slot, [0, 255, 0]);
        slot.end("the window closed".into());
        slot.end("the stream stopped".into());
        match slot.newest() {
            Err(CaptureError::Gone(reason)) => assert_eq!(reason, "the window closed"),
            other => panic!("expected Gone, got {other:?}"),
        }
    }

    #[test]
    fn no_picture_at_all_is_a_clear_failure() {
        let slot = NewestPicture::default();
        match slot.newest_within(Duration::ZERO) {
            Err(CaptureError::Failed(reason)) => assert!(reason.contains("no picture"), "{reason}"),
            other => panic!("expected Failed, got {other:?}"),
        }
    }
}
