//! Cameras through nokhwa (Video4Linux on Linux, AVFoundation on macOS, Media Foundation on
//! Windows), without nokhwa's own decoding: raw MJPEG, YUYV or NV12 frames become I420 in
//! [`crate::video::convert`]. A machine without a camera lists none and the user joins with
//! the camera off.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
    RequestedFormatType, Resolution,
};

use super::{DeviceChoice, DeviceError, DeviceInfo, DeviceKind};
use crate::i420::{I420Layout, VideoFrame};
use crate::sync::lock;
use crate::video::convert::{
    self, ConvertError, PackedRgb, mjpeg_to_i420, nv12_to_i420, rgb_to_i420, yuyv_to_i420,
};
use crate::video::source::{CaptureError, CapturedFrame, VideoSource};

/// What to ask a camera for; it delivers the closest mode it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraRequest {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl Default for CameraRequest {
    /// The top simulcast layer's size at 30 fps.
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            fps: 30,
        }
    }
}

/// The cameras connected now. Ids are the camera's name (with `#2`, `#3`… for cameras of the
/// same name, in system order), which survives replugging into another port where the
/// system's index would not.
pub fn list() -> Result<Vec<DeviceInfo>, DeviceError> {
    Ok(query()?.into_iter().map(|(info, _)| info).collect())
}

/// Each camera with the index the backend opens it by.
fn query() -> Result<Vec<(DeviceInfo, CameraIndex)>, DeviceError> {
    let backend = nokhwa::native_api_backend().unwrap_or(ApiBackend::Auto);
    let cameras = match nokhwa::query(backend) {
        Ok(cameras) => cameras,
        // No camera subsystem at all (a VM, a container): no cameras, not a failure.
        Err(error) => {
            tracing::debug!(%error, "no cameras to list");
            Vec::new()
        }
    };
    Ok(stable_ids(&cameras))
}

fn stable_ids(cameras: &[CameraInfo]) -> Vec<(DeviceInfo, CameraIndex)> {
    let mut seen: Vec<String> = Vec::new();
    cameras
        .iter()
        .enumerate()
        .map(|(position, camera)| {
            let name = camera.human_name();
            let same = seen.iter().filter(|earlier| **earlier == name).count();
            seen.push(name.clone());
            let id = if same == 0 {
                name.clone()
            } else {
                format!("{name} #{}", same + 1)
            };
            let info = DeviceInfo {
                id,
                name,
                kind: DeviceKind::Camera,
                is_default: position == 0,
            };
            (info, camera.index().clone())
        })
        .collect()
}

/// An open camera, streaming. The camera lives on a thread of its own (some backends' camera
/// objects must stay on the thread that opened them, and none is `Send`), which converts each
/// frame and leaves the newest for `capture`: a slow encoder skips frames, as with any camera.
pub struct Camera {
    info: DeviceInfo,
    layout: I420Layout,
    newest: Arc<Newest>,
}

/// The newest frame (or why there is none), and whether the reader has gone.
#[derive(Debug, Default)]
struct Newest {
    slot: Mutex<Slot>,
    arrived: Condvar,
}

#[derive(Debug, Default)]
struct Slot {
    frame: Option<Result<CapturedFrame, CaptureError>>,
    reader_gone: bool,
}

impl Newest {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        lock(&self.slot)
    }
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("info", &self.info)
            .field("layout", &self.layout)
            .finish()
    }
}

/// A camera that delivers nothing for this long has stopped (unplugged, or taken by the system).
const STALL: Duration = Duration::from_secs(3);

impl Camera {
    /// Opens the chosen camera (the first one for the system default) in the mode closest to
    /// `request`, preferring MJPEG (what USB cameras deliver at 720p30).
    pub fn open(choice: &DeviceChoice, request: CameraRequest) -> Result<Self, DeviceError> {
        let cameras = query()?;
        let (info, index) = match choice {
            DeviceChoice::SystemDefault => cameras.into_iter().next(),
            DeviceChoice::Id(id) => cameras.into_iter().find(|(info, _)| info.id == *id),
        }
        .ok_or_else(|| match choice {
            DeviceChoice::SystemDefault => DeviceError::NoDevice(DeviceKind::Camera),
            DeviceChoice::Id(id) => DeviceError::NotFound {
                kind: DeviceKind::Camera,
                id: id.clone(),
            },
        })?;
        let newest = Arc::new(Newest::default());
        let (opened, open_result) = mpsc::channel();
        let name = info.name.clone();
        let delivering = newest.clone();
        std::thread::Builder::new()
            .name("confab-camera".into())
            .spawn(move || match open_native(&name, index, request) {
                Ok((camera, format, layout)) => {
                    let _ = opened.send(Ok(layout));
                    stream(camera, &name, format, layout, &delivering);
                }
                Err(error) => {
                    let _ = opened.send(Err(error));
                }
            })
            .map_err(DeviceError::Thread)?;
        let layout = open_result.recv().map_err(|_| DeviceError::Open {
            kind: DeviceKind::Camera,
            name: info.name.clone(),
            reason: "the camera thread ended".into(),
        })??;
        Ok(Self {
            info,
            layout,
            newest,
        })
    }

    pub fn device(&self) -> &DeviceInfo {
        &self.info
    }
}

fn open_native(
    name: &str,
    index: CameraIndex,
    request: CameraRequest,
) -> Result<(nokhwa::Camera, FrameFormat, I420Layout), DeviceError> {
    let open_error = |reason: String| DeviceError::Open {
        kind: DeviceKind::Camera,
        name: name.to_owned(),
        reason,
    };
    let wanted = CameraFormat::new(
        Resolution::new(request.width, request.height),
        FrameFormat::MJPEG,
        request.fps,
    );
    let mut camera = nokhwa::Camera::new(
        index,
        RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted)),
    )
    .map_err(|error| open_error(error.to_string()))?;
    camera
        .open_stream()
        .map_err(|error| open_error(error.to_string()))?;
    let format = camera.camera_format();
    let layout = I420Layout::new(format.width(), format.height())
        .map_err(|error| open_error(error.to_string()))?;
    tracing::info!(camera = %name, %format, "camera open");
    Ok((camera, format.format(), layout))
}

/// The camera thread: reads, converts and leaves each frame until the reader goes or the
/// camera fails (which the reader then gets as its error).
fn stream(
    mut camera: nokhwa::Camera,
    name: &str,
    format: FrameFormat,
    layout: I420Layout,
    newest: &Newest,
) {
    loop {
        let result = match camera.frame_raw() {
            Ok(raw) => {
                let captured_at = Instant::now();
                decode(&raw, format, layout)
                    .map(|frame| CapturedFrame { frame, captured_at })
                    .map_err(|error| CaptureError::Failed(error.to_string()))
            }
            Err(error) => Err(CaptureError::Gone(format!(
                "the camera {name} stopped: {error}"
            ))),
        };
        let failed = matches!(result, Err(CaptureError::Gone(_)));
        let mut slot = newest.lock();
        if slot.reader_gone {
            break;
        }
        slot.frame = Some(result);
        drop(slot);
        newest.arrived.notify_all();
        if failed {
            break;
        }
    }
    if let Err(error) = camera.stop_stream() {
        tracing::debug!(%error, "camera stream did not stop cleanly");
    }
}

impl VideoSource for Camera {
    fn layout(&self) -> I420Layout {
        self.layout
    }

    /// Blocks until the camera delivers its next frame.
    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        let mut slot = self.newest.lock();
        let waited = Instant::now();
        loop {
            if let Some(result) = slot.frame.take() {
                return result;
            }
            let left = STALL.checked_sub(waited.elapsed()).ok_or_else(|| {
                CaptureError::Gone(format!("the camera {} delivers nothing", self.info.name))
            })?;
            slot = self
                .newest
                .arrived
                .wait_timeout(slot, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }
}

impl Drop for Camera {
    /// The camera thread stops at its next frame (it is not waited for: a camera that hangs
    /// in its driver must not hang the meeting).
    fn drop(&mut self) {
        self.newest.lock().reader_gone = true;
    }
}

/// One raw camera frame in `format` as I420.
fn decode(raw: &[u8], format: FrameFormat, layout: I420Layout) -> Result<VideoFrame, ConvertError> {
    let (width, height) = (layout.width, layout.height);
    match format {
        FrameFormat::MJPEG => mjpeg_to_i420(raw, width, height),
        FrameFormat::YUYV => yuyv_to_i420(raw, width, height, width as usize * 2),
        FrameFormat::NV12 => nv12_to_i420(raw, width, height, width as usize),
        FrameFormat::RAWRGB => {
            rgb_to_i420(raw, width, height, width as usize * 3, PackedRgb::RGB24)
        }
        FrameFormat::RAWBGR => {
            rgb_to_i420(raw, width, height, width as usize * 3, PackedRgb::BGR24)
        }
        FrameFormat::GRAY => convert::gray_to_i420(raw, width, height),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_of_the_same_name_get_distinct_stable_ids() {
        let cameras = [
            CameraInfo::new("USB Camera", "", "", CameraIndex::Index(0)),
            CameraInfo::new("Integrated", "", "", CameraIndex::Index(2)),
            CameraInfo::new("USB Camera", "", "", CameraIndex::Index(4)),
        ];
        let ids: Vec<(String, bool)> = stable_ids(&cameras)
            .into_iter()
            .map(|(info, _)| (info.id, info.is_default))
            .collect();
        assert_eq!(
            ids,
            [
                ("USB Camera".to_owned(), true),
                ("Integrated".to_owned(), false),
                ("USB Camera #2".to_owned(), false),
            ]
        );
    }

    /// No camera (no /dev/video* node, as on this CI machine) is a normal state: an empty
    /// list and a clear error on open, not a failure.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_listing_matches_the_video_nodes_and_none_is_no_error() {
        let nodes = std::fs::read_dir("/dev")
            .expect("/dev")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("video"))
            .count();
        let listed = list().expect("listing never fails");
        if nodes > 0 {
            assert!(
                !listed.is_empty(),
                "{nodes} video nodes but no camera listed"
            );
            return;
        }
        assert_eq!(listed, []);
        assert!(matches!(
            Camera::open(&DeviceChoice::SystemDefault, CameraRequest::default()),
            Err(DeviceError::NoDevice(DeviceKind::Camera))
        ));
        assert!(matches!(
            Camera::open(
                &DeviceChoice::Id("Gone Cam".into()),
                CameraRequest::default()
            ),
            Err(DeviceError::NotFound { .. })
        ));
    }

    #[test]
    fn every_raw_format_decodes_or_says_why() {
        let layout = I420Layout::new(4, 2).expect("valid");
        assert!(decode(&[128; 16], FrameFormat::YUYV, layout).is_ok());
        assert!(decode(&[128; 12], FrameFormat::NV12, layout).is_ok());
        assert!(decode(&[9; 24], FrameFormat::RAWRGB, layout).is_ok());
        assert!(decode(&[9; 24], FrameFormat::RAWBGR, layout).is_ok());
        let gray = decode(&[200; 8], FrameFormat::GRAY, layout).expect("gray");
        assert_eq!(gray.planes().y, [200; 8]);
        assert!(gray.planes().u.iter().all(|&u| u == 128));
        assert!(matches!(
            decode(&[0; 3], FrameFormat::YUYV, layout),
            Err(ConvertError::ShortBuffer { .. })
        ));
        assert!(matches!(
            decode(b"junk", FrameFormat::MJPEG, layout),
            Err(ConvertError::Jpeg(_))
        ));
    }
}
