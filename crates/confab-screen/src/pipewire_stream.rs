//! Reading a screen-cast PipeWire stream (the one the portal handed over) on a thread of its
//! own: PipeWire's loop copies each new picture out of its shared-memory buffer, and the
//! share's reader converts the newest one when its next frame is due, so a slow encoder skips
//! pictures instead of queueing them.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::thread::JoinHandle;

use pipewire as pw;
use pw::spa;
use pw::spa::param::video::{VideoFormat, VideoInfoRaw};
use pw::spa::pod::Pod;
use pw::stream::{StreamFlags, StreamState};

use confab_frame::convert::PackedRgb;
use confab_frame::i420::I420Layout;
use confab_frame::source::{CaptureError, CapturedFrame};

use crate::newest::{NewestPicture, PictureRef};

/// The largest picture the stream may offer, per side: the largest frame there is.
const MAX_SIDE: u32 = confab_frame::i420::MAX_DIMENSION;

/// A running PipeWire stream of one shared screen or window.
pub struct PipeWireStream {
    shared: Arc<NewestPicture>,
    quit: pw::channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PipeWireStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeWireStream").finish_non_exhaustive()
    }
}

impl PipeWireStream {
    /// Connects to `remote` (a PipeWire socket from the portal) and streams node `node_id`
    /// at up to `max_fps`.
    pub fn open(remote: OwnedFd, node_id: u32, max_fps: u32) -> Result<Self, CaptureError> {
        let max_fps = max_fps.clamp(1, crate::MAX_FPS);
        let shared = Arc::new(NewestPicture::default());
        let (quit, quit_rx) = pw::channel::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("screen-pipewire".into())
                .spawn(move || {
                    if let Err(error) = run(remote, node_id, max_fps, &shared, quit_rx) {
                        shared.end(format!("PipeWire refused the stream: {error}"));
                    }
                    shared.end("the PipeWire stream stopped".into());
                })
                .map_err(|error| CaptureError::Failed(format!("no PipeWire thread: {error}")))?
        };
        Ok(Self {
            shared,
            quit,
            thread: Some(thread),
        })
    }

    /// The newest picture's frame size, or `provisional` before the first picture.
    pub fn layout_or(&self, provisional: I420Layout) -> I420Layout {
        self.shared.layout_or(provisional)
    }

    /// The newest picture as an I420 frame, waiting for the first one if none came yet.
    pub fn newest(&self) -> Result<CapturedFrame, CaptureError> {
        self.shared.newest()
    }
}

impl Drop for PipeWireStream {
    fn drop(&mut self) {
        // A send error means the loop already ended on its own.
        let _ = self.quit.send(());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the PipeWire screen thread panicked");
        }
    }
}

/// The stream's agreed format, as the loop's listener sees it.
#[derive(Debug, Default, Clone, Copy)]
struct Agreed {
    width: u32,
    height: u32,
    format: Option<PackedRgb>,
}

fn run(
    remote: OwnedFd,
    node_id: u32,
    max_fps: u32,
    shared: &Arc<NewestPicture>,
    quit: pw::channel::Receiver<()>,
) -> Result<(), pw::Error> {
    pw::init();
    let mainloop = pw::main_loop::MainLoopRc::new(None)?;
    let context = pw::context::ContextRc::new(&mainloop, None)?;
    let core = context.connect_fd_rc(remote, None)?;
    let stream = pw::stream::StreamBox::new(
        &core,
        "confab-screen-share",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )?;
    // The portal's node leaving the graph is the desktop ending the share.
    let registry = core.get_registry()?;
    let on_removed = Arc::clone(shared);
    let remover = mainloop.clone();
    let _registry_listener = registry
        .add_listener_local()
        .global_remove(move |id| {
            if id == node_id {
                on_removed.end("the desktop stopped the share".into());
                remover.quit();
            }
        })
        .register();
    let on_state = Arc::clone(shared);
    let on_picture = Arc::clone(shared);
    let stopper = mainloop.clone();
    let _listener = stream
        .add_local_listener_with_user_data(Agreed::default())
        .state_changed(move |_, _, old, new| match new {
            StreamState::Error(error) => {
                on_state.end(format!("the screen's stream failed: {error}"));
                stopper.quit();
            }
            StreamState::Unconnected if old != StreamState::Unconnected => {
                on_state.end("the desktop stopped the share".into());
                stopper.quit();
            }
            _ => {}
        })
        .param_changed(|_, agreed, id, param| {
            if id != spa::param::ParamType::Format.as_raw() {
                return;
            }
            if let Some(param) = param {
                *agreed = agreed_format(param);
            }
        })
        .process(move |stream, agreed| {
            // Only the newest of the queued pictures matters; the older ones go straight back
            // to the compositor (a buffer is returned when dropped). Taking just the first
            // would show a stale picture until the screen changed again.
            let mut newest = None;
            while let Some(buffer) = stream.dequeue_buffer() {
                newest = Some(buffer);
            }
            let Some(mut buffer) = newest else {
                return;
            };
            let Some(data) = buffer.datas_mut().first_mut() else {
                return;
            };
            let (offset, size, stride) = {
                let chunk = data.chunk();
                (
                    chunk.offset() as usize,
                    chunk.size() as usize,
                    chunk.stride(),
                )
            };
            let Some(mapped) = data.data() else {
                return;
            };
            let Some((pixels, stride)) = whole_picture(mapped, offset, size, stride, agreed) else {
                // Nothing new (an empty buffer keeps the stream ticking) or a picture cut
                // short: skipped, the last whole one stays.
                return;
            };
            let Some(format) = agreed.format else {
                return;
            };
            on_picture.put(PictureRef {
                pixels,
                width: agreed.width,
                height: agreed.height,
                stride,
                format,
            });
        })
        .register()?;
    let params = format_params(max_fps).map_err(|error| {
        tracing::warn!(?error, "the screen stream's format offer did not serialise");
        pw::Error::CreationFailed
    })?;
    let mut params = [Pod::from_bytes(&params).ok_or(pw::Error::CreationFailed)?];
    stream.connect(
        spa::utils::Direction::Input,
        Some(node_id),
        // Never relinked to some other screen once the shared one is gone.
        StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS | StreamFlags::DONT_RECONNECT,
        &mut params,
    )?;
    let _quit = quit.attach(mainloop.loop_(), {
        let mainloop = mainloop.clone();
        move |()| mainloop.quit()
    });
    mainloop.run();
    Ok(())
}

/// The bytes of a whole picture of the agreed size in a mapped buffer (`size` bytes at
/// `offset`, rows `stride` apart; a stride shorter than a row, or negative, means packed
/// rows), with the stride to read it at; `None` when the chunk holds less than that.
fn whole_picture<'a>(
    mapped: &'a [u8],
    offset: usize,
    size: usize,
    stride: i32,
    agreed: &Agreed,
) -> Option<(&'a [u8], usize)> {
    let format = agreed.format?;
    if agreed.width == 0 || agreed.height == 0 {
        return None;
    }
    let pixels = mapped.get(offset..offset.checked_add(size)?)?;
    let row_bytes = agreed.width as usize * format.bytes_per_pixel;
    let stride = usize::try_from(stride)
        .ok()
        .filter(|&stride| stride >= row_bytes)
        .unwrap_or(row_bytes);
    let needed = stride.checked_mul(agreed.height as usize - 1)? + row_bytes;
    (pixels.len() >= needed).then_some((pixels, stride))
}

/// The format PipeWire agreed, if it is one of the packed RGB formats this offers.
fn agreed_format(param: &Pod) -> Agreed {
    let mut info = VideoInfoRaw::new();
    if info.parse(param).is_err() {
        return Agreed::default();
    }
    let size = info.size();
    Agreed {
        width: size.width,
        height: size.height,
        format: packed_rgb(info.format()),
    }
}

/// Where red, green and blue sit in one of the offered formats' pixels.
fn packed_rgb(format: VideoFormat) -> Option<PackedRgb> {
    let four = |offsets| PackedRgb {
        bytes_per_pixel: 4,
        offsets,
    };
    Some(match format {
        VideoFormat::BGRx | VideoFormat::BGRA => PackedRgb::BGRX,
        VideoFormat::RGBx | VideoFormat::RGBA => PackedRgb::RGBA,
        VideoFormat::xRGB | VideoFormat::ARGB => four([1, 2, 3]),
        VideoFormat::xBGR | VideoFormat::ABGR => four([3, 2, 1]),
        VideoFormat::RGB => PackedRgb::RGB24,
        VideoFormat::BGR => PackedRgb::BGR24,
        _ => return None,
    })
}

/// Raw video in any packed RGB layout, any size, at most `max_fps`.
fn format_params(max_fps: u32) -> Result<Vec<u8>, spa::pod::serialize::GenError> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::utils::{Fraction, Rectangle, SpaTypes};
    let object = spa::pod::object!(
        SpaTypes::ObjectParamFormat,
        spa::param::ParamType::EnumFormat,
        spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        spa::pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA,
            VideoFormat::RGBx,
            VideoFormat::RGBA,
            VideoFormat::xRGB,
            VideoFormat::ARGB,
            VideoFormat::xBGR,
            VideoFormat::ABGR,
            VideoFormat::RGB,
            VideoFormat::BGR
        ),
        spa::pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1920,
                height: 1080
            },
            Rectangle {
                width: 1,
                height: 1
            },
            Rectangle {
                width: MAX_SIDE,
                height: MAX_SIDE
            }
        ),
        spa::pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction {
                num: max_fps,
                denom: 1
            },
            Fraction { num: 0, denom: 1 },
            Fraction {
                num: max_fps,
                denom: 1
            }
        ),
    );
    let (cursor, _) = spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(object),
    )?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_format_maps_to_its_channel_bytes() {
        assert_eq!(packed_rgb(VideoFormat::BGRx), Some(PackedRgb::BGRX));
        assert_eq!(packed_rgb(VideoFormat::RGBA), Some(PackedRgb::RGBA));
        assert_eq!(
            packed_rgb(VideoFormat::xRGB).map(|format| format.offsets),
            Some([1, 2, 3])
        );
        assert_eq!(
            packed_rgb(VideoFormat::ABGR).map(|format| format.offsets),
            Some([3, 2, 1])
        );
        assert_eq!(packed_rgb(VideoFormat::BGR), Some(PackedRgb::BGR24));
        assert_eq!(packed_rgb(VideoFormat::I420), None);
    }

    #[test]
    fn only_a_whole_picture_is_taken_from_a_buffer() {
        let agreed = Agreed {
            width: 4,
            height: 2,
            format: Some(PackedRgb::BGRX),
        };
        let mapped = vec![7u8; 64];
        // Rows 20 bytes apart: 20 + 16 bytes make a whole 4×2 picture.
        let (pixels, stride) = whole_picture(&mapped, 8, 36, 20, &agreed).expect("whole");
        assert_eq!((pixels.len(), stride), (36, 20));
        assert!(
            whole_picture(&mapped, 8, 35, 20, &agreed).is_none(),
            "cut short"
        );
        assert!(whole_picture(&mapped, 0, 0, 16, &agreed).is_none(), "empty");
        assert!(
            whole_picture(&mapped, 60, 32, 16, &agreed).is_none(),
            "past the map"
        );
        // A negative or too short stride reads packed rows.
        assert_eq!(
            whole_picture(&mapped, 0, 32, -16, &agreed).map(|p| p.1),
            Some(16)
        );
        assert_eq!(
            whole_picture(&mapped, 0, 32, 3, &agreed).map(|p| p.1),
            Some(16)
        );
        let unknown = Agreed {
            format: None,
            ..agreed
        };
        assert!(whole_picture(&mapped, 0, 32, 16, &unknown).is_none());
    }

    #[test]
    fn the_format_offer_serialises_and_reads_back_as_a_pod() {
        let bytes = format_params(30).expect("serialise");
        assert!(Pod::from_bytes(&bytes).is_some());
    }
}
