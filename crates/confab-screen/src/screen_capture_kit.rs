//! Screen sharing on macOS through ScreenCaptureKit (macOS 12.3 and later): the displays and
//! on-screen windows of `SCShareableContent`, and an `SCStream` whose BGRA pixel buffers are
//! copied into the share's [`NewestPicture`] on a dispatch queue of its own.
//!
//! macOS asks the person once whether Confab may record the screen; until they allow it in
//! System Settings, listing and sharing fail with [`ScreenError::NotPermitted`].
//!
//! This backend is compile-checked from Linux (`cargo check --target aarch64-apple-darwin`
//! in `cargo xtask test`) and has never run: this project's CI has no Mac.
//!
//! Objective-C messages, blocks and CoreVideo calls are `unsafe`; each block says what it
//! relies on.

#![allow(unsafe_code)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use block2::RcBlock;
use dispatch2::{DispatchQueue, DispatchRetained};
use objc2::rc::Retained;
use objc2::runtime::{AnyClass, NSObjectProtocol, ProtocolObject};
use objc2::{AllocAnyThread, DefinedClass, define_class, msg_send, sel};
use objc2_core_media::{CMSampleBuffer, CMTime};
use objc2_core_video::{
    CVPixelBuffer, CVPixelBufferGetBaseAddress, CVPixelBufferGetBytesPerRow,
    CVPixelBufferGetHeight, CVPixelBufferGetPixelFormatType, CVPixelBufferGetWidth,
    CVPixelBufferLockBaseAddress, CVPixelBufferLockFlags, CVPixelBufferUnlockBaseAddress,
    kCVPixelFormatType_32BGRA, kCVReturnSuccess,
};
use objc2_foundation::{NSArray, NSError, NSObject};
use objc2_screen_capture_kit::{
    SCContentFilter, SCShareableContent, SCStream, SCStreamConfiguration, SCStreamDelegate,
    SCStreamErrorCode, SCStreamOutput, SCStreamOutputType,
};

use confab_frame::convert::PackedRgb;
use confab_frame::i420::I420Layout;
use confab_frame::source::{CaptureError, CapturedFrame, VideoSource};

use crate::newest::{NewestPicture, PictureRef};
use crate::{
    FramePacer, MAX_FPS, ScreenBackend, ScreenError, ShareKind, ShareOptions, ShareTarget,
    provisional_layout,
};

/// How long ScreenCaptureKit may take to list the screens or to start a stream (the first
/// time, macOS shows its permission prompt meanwhile).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long stopping a stream may hold up the share's drop.
const STOP_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames ScreenCaptureKit may queue for us; more only adds latency.
const QUEUE_DEPTH: isize = 3;

/// The Mac's displays and windows through ScreenCaptureKit.
#[derive(Debug)]
pub struct ScreenCaptureKitScreens;

impl ScreenCaptureKitScreens {
    /// Fails on macOS older than 12.3, which has no ScreenCaptureKit (sending it a message
    /// would abort the process).
    pub fn new() -> Result<Self, ScreenError> {
        if AnyClass::get(c"SCShareableContent").is_none() {
            return Err(ScreenError::Unsupported(
                "this version of macOS (ScreenCaptureKit needs macOS 12.3 or later)",
            ));
        }
        Ok(Self)
    }
}

impl ScreenBackend for ScreenCaptureKitScreens {
    fn name(&self) -> &'static str {
        "macOS ScreenCaptureKit"
    }

    fn targets(&self) -> Result<Vec<ShareTarget>, ScreenError> {
        let content = shareable_content()?;
        // SAFETY: plain getters on the snapshot ScreenCaptureKit delivered.
        unsafe {
            let displays = content.0.displays();
            let screens = displays
                .iter()
                .enumerate()
                .map(|(index, display)| ShareTarget {
                    id: format!("screen:{}", display.displayID()),
                    kind: ShareKind::Screen,
                    name: if index == 0 {
                        "Entire screen (main display)".into()
                    } else {
                        format!("Entire screen (display {})", index + 1)
                    },
                    width: points(display.width() as f64),
                    height: points(display.height() as f64),
                });
            let windows = content.0.windows();
            let windows = windows.iter().filter_map(|window| {
                // Layer 0 holds the windows people work in; menus, the Dock and overlays
                // live above it.
                if window.windowLayer() != 0 || !window.isOnScreen() {
                    return None;
                }
                let title = window.title()?.to_string();
                if title.is_empty() {
                    return None;
                }
                let name = match window.owningApplication() {
                    Some(app) => format!("{title} — {}", app.applicationName()),
                    None => title,
                };
                let frame = window.frame();
                Some(ShareTarget {
                    id: format!("window:{}", window.windowID()),
                    kind: ShareKind::Window,
                    name,
                    width: points(frame.size.width),
                    height: points(frame.size.height),
                })
            });
            Ok(screens.chain(windows).collect())
        }
    }

    fn open(&self, id: &str, options: ShareOptions) -> Result<Box<dyn VideoSource>, ScreenError> {
        let content = shareable_content()?;
        let (filter, size) = content_filter(&content, id)?;
        Ok(Box::new(ScreenCaptureKitShare::start(
            &filter, size, options,
        )?))
    }
}

/// A size in points (or pixels) as a whole number of pixels.
fn points(value: f64) -> u32 {
    value.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

fn kit_error(error: &NSError) -> ScreenError {
    if error.code() == SCStreamErrorCode::UserDeclined.0 {
        return ScreenError::NotPermitted;
    }
    ScreenError::ScreenCaptureKit(error.localizedDescription().to_string())
}

/// A snapshot of what can be shared, as ScreenCaptureKit delivered it.
struct Content(Retained<SCShareableContent>);

// SAFETY: the snapshot is immutable once delivered, and ScreenCaptureKit itself hands it from
// its own queue to whichever thread runs the completion handler.
unsafe impl Send for Content {}

/// Asks ScreenCaptureKit for the on-screen displays and windows, waiting for its answer.
fn shareable_content() -> Result<Content, ScreenError> {
    let (answer, answered) = mpsc::sync_channel(1);
    let handler = RcBlock::new(
        move |content: *mut SCShareableContent, error: *mut NSError| {
            // SAFETY: each pointer is null or an object valid for the handler's duration;
            // retaining keeps it past that.
            let delivered = unsafe {
                match (Retained::retain(content), Retained::retain(error)) {
                    (Some(content), _) => Ok(Content(content)),
                    (None, Some(error)) => Err(kit_error(&error)),
                    (None, None) => Err(ScreenError::ScreenCaptureKit(
                        "it gave neither content nor an error".into(),
                    )),
                }
            };
            // The caller may have given up waiting.
            let _ = answer.try_send(delivered);
        },
    );
    // SAFETY: the block is a valid completion handler, called once with the answer.
    unsafe {
        SCShareableContent::getShareableContentExcludingDesktopWindows_onScreenWindowsOnly_completionHandler(
            true, true, &handler,
        );
    }
    answered.recv_timeout(ANSWER_TIMEOUT).map_err(|_| {
        ScreenError::ScreenCaptureKit(format!(
            "no list of screens within {} s",
            ANSWER_TIMEOUT.as_secs()
        ))
    })?
}

/// The filter for a target id from [`ScreenCaptureKitScreens::targets`], with the size in
/// pixels to capture it at.
fn content_filter(
    content: &Content,
    id: &str,
) -> Result<(Retained<SCContentFilter>, (u32, u32)), ScreenError> {
    let not_found = || ScreenError::NotFound(id.to_owned());
    let number = |prefix: &str| -> Option<u32> { id.strip_prefix(prefix)?.parse().ok() };
    // SAFETY: getters on the delivered snapshot, and filters made from its own objects.
    unsafe {
        let (filter, points_size) = if let Some(display_id) = number("screen:") {
            let display = content
                .0
                .displays()
                .iter()
                .find(|display| display.displayID() == display_id)
                .ok_or_else(not_found)?;
            let filter = SCContentFilter::initWithDisplay_excludingWindows(
                SCContentFilter::alloc(),
                &display,
                &NSArray::new(),
            );
            (filter, (display.width() as f64, display.height() as f64))
        } else if let Some(window_id) = number("window:") {
            let window = content
                .0
                .windows()
                .iter()
                .find(|window| window.windowID() == window_id)
                .ok_or_else(not_found)?;
            let frame = window.frame();
            let filter = SCContentFilter::initWithDesktopIndependentWindow(
                SCContentFilter::alloc(),
                &window,
            );
            (filter, (frame.size.width, frame.size.height))
        } else {
            return Err(not_found());
        };
        // Native resolution: points times the display's pixels per point (macOS 14 says
        // which; earlier ones are taken as 1×, which halves a Retina share's sharpness).
        let scale = if filter.respondsToSelector(sel!(pointPixelScale)) {
            f64::from(filter.pointPixelScale())
        } else {
            1.0
        };
        let size = (points(points_size.0 * scale), points(points_size.1 * scale));
        Ok((filter, size))
    }
}

define_class!(
    // SAFETY: NSObject has no subclassing requirements, and this class does not implement
    // Drop.
    #[unsafe(super(NSObject))]
    #[name = "ConfabScreenCaptureOutput"]
    #[ivars = Arc<NewestPicture>]
    struct StreamOutput;

    unsafe impl NSObjectProtocol for StreamOutput {}

    unsafe impl SCStreamOutput for StreamOutput {
        #[unsafe(method(stream:didOutputSampleBuffer:ofType:))]
        fn did_output(&self, _stream: &SCStream, sample: &CMSampleBuffer, kind: SCStreamOutputType) {
            if kind != SCStreamOutputType::Screen {
                return;
            }
            // SAFETY: `sample` is valid for this call. A frame where nothing changed (an
            // "idle" frame) carries no image and is skipped: the last picture stays.
            if let Some(image) = unsafe { sample.image_buffer() } {
                copy_pixels(&image, self.ivars());
            }
        }
    }

    unsafe impl SCStreamDelegate for StreamOutput {
        #[unsafe(method(stream:didStopWithError:))]
        fn did_stop(&self, _stream: &SCStream, error: &NSError) {
            self.ivars().end(format!(
                "macOS stopped the share: {}",
                error.localizedDescription()
            ));
        }
    }
);

impl StreamOutput {
    fn new(picture: Arc<NewestPicture>) -> Retained<Self> {
        let this = Self::alloc().set_ivars(picture);
        // SAFETY: NSObject's `init` on a freshly allocated instance.
        unsafe { msg_send![super(this), init] }
    }
}

/// Copies a BGRA pixel buffer into `picture`.
fn copy_pixels(pixels: &CVPixelBuffer, picture: &NewestPicture) {
    if CVPixelBufferGetPixelFormatType(pixels) != kCVPixelFormatType_32BGRA {
        return;
    }
    // SAFETY: locking is how the CPU may read a pixel buffer's memory; unlocked below.
    if unsafe { CVPixelBufferLockBaseAddress(pixels, CVPixelBufferLockFlags::ReadOnly) }
        != kCVReturnSuccess
    {
        return;
    }
    let base = CVPixelBufferGetBaseAddress(pixels);
    let stride = CVPixelBufferGetBytesPerRow(pixels);
    let width = CVPixelBufferGetWidth(pixels);
    let height = CVPixelBufferGetHeight(pixels);
    if let (Ok(picture_width), Ok(picture_height)) = (u32::try_from(width), u32::try_from(height))
        && !base.is_null()
        && width > 0
        && height > 0
        && stride >= width * 4
    {
        // SAFETY: while locked, `base` points at `stride` bytes for each of `height` rows,
        // copied out before the unlock.
        let bytes = unsafe { std::slice::from_raw_parts(base.cast::<u8>(), stride * height) };
        picture.put(PictureRef {
            pixels: bytes,
            width: picture_width,
            height: picture_height,
            stride,
            format: PackedRgb::BGRX,
        });
    }
    // SAFETY: unlocks what was locked above, after the last read.
    unsafe { CVPixelBufferUnlockBaseAddress(pixels, CVPixelBufferLockFlags::ReadOnly) };
}

/// A completion handler taking an `NSError *` (null for success), and its answer.
struct Completion {
    handler: RcBlock<dyn Fn(*mut NSError)>,
    answered: mpsc::Receiver<Result<(), ScreenError>>,
}

impl Completion {
    fn new() -> Self {
        let (answer, answered) = mpsc::sync_channel(1);
        let handler = RcBlock::new(move |error: *mut NSError| {
            // SAFETY: null or an error valid for the handler's duration, retained past it.
            let result = match unsafe { Retained::retain(error) } {
                Some(error) => Err(kit_error(&error)),
                None => Ok(()),
            };
            // The waiter may have given up.
            let _ = answer.try_send(result);
        });
        Self { handler, answered }
    }

    /// The answer, or an error naming `what` did not happen within `timeout`.
    fn wait(&self, timeout: Duration, what: &str) -> Result<(), ScreenError> {
        self.answered.recv_timeout(timeout).map_err(|_| {
            ScreenError::ScreenCaptureKit(format!("{what} within {} s", timeout.as_secs()))
        })?
    }
}

/// A running ScreenCaptureKit share.
pub struct ScreenCaptureKitShare {
    picture: Arc<NewestPicture>,
    stream: Retained<SCStream>,
    /// Kept alive here: the stream holds its delegate weakly.
    _output: Retained<StreamOutput>,
    _queue: DispatchRetained<DispatchQueue>,
    provisional: I420Layout,
    pacer: FramePacer,
}

// SAFETY: after start, the stream is touched only by Drop (stopCapture, which ScreenCaptureKit
// accepts from any thread); frames reach the reader through the shared `NewestPicture`.
unsafe impl Send for ScreenCaptureKitShare {}

impl std::fmt::Debug for ScreenCaptureKitShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenCaptureKitShare")
            .field("provisional", &self.provisional)
            .finish_non_exhaustive()
    }
}

impl ScreenCaptureKitShare {
    fn start(
        filter: &SCContentFilter,
        (width, height): (u32, u32),
        options: ShareOptions,
    ) -> Result<Self, ScreenError> {
        let picture = Arc::new(NewestPicture::default());
        let output = StreamOutput::new(Arc::clone(&picture));
        let queue = DispatchQueue::new("org.confab.screen-capture", None);
        let fps = options.max_fps.clamp(1, MAX_FPS);
        // SAFETY: configuring a fresh configuration object, then making a stream from it and
        // our own output object, which outlives the stream (both are fields of the share).
        let stream = unsafe {
            let config = SCStreamConfiguration::new();
            config.setWidth(width.max(1) as usize);
            config.setHeight(height.max(1) as usize);
            config.setMinimumFrameInterval(CMTime::new(1, fps as i32));
            config.setPixelFormat(kCVPixelFormatType_32BGRA);
            config.setShowsCursor(options.cursor);
            config.setQueueDepth(QUEUE_DEPTH);
            let stream = SCStream::initWithFilter_configuration_delegate(
                SCStream::alloc(),
                filter,
                &config,
                Some(ProtocolObject::from_ref(&*output)),
            );
            stream
                .addStreamOutput_type_sampleHandlerQueue_error(
                    ProtocolObject::from_ref(&*output),
                    SCStreamOutputType::Screen,
                    Some(&queue),
                )
                .map_err(|error| kit_error(&error))?;
            stream
        };
        let started = Completion::new();
        // SAFETY: the block is a valid completion handler, called once.
        unsafe { stream.startCaptureWithCompletionHandler(Some(&started.handler)) };
        started.wait(ANSWER_TIMEOUT, "the share did not start")?;
        Ok(Self {
            picture,
            stream,
            _output: output,
            _queue: queue,
            provisional: provisional_layout(Some((width, height))),
            pacer: FramePacer::new(options.max_fps),
        })
    }
}

impl VideoSource for ScreenCaptureKitShare {
    fn layout(&self) -> I420Layout {
        self.picture.layout_or(self.provisional)
    }

    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        self.pacer.wait();
        self.picture.newest()
    }
}

impl Drop for ScreenCaptureKitShare {
    fn drop(&mut self) {
        let stopped = Completion::new();
        // SAFETY: the block is a valid completion handler, called once.
        unsafe {
            self.stream
                .stopCaptureWithCompletionHandler(Some(&stopped.handler))
        };
        if let Err(error) = stopped.wait(STOP_TIMEOUT, "the share did not confirm its stop") {
            tracing::debug!(%error, "the screen stream did not stop cleanly");
        }
    }
}
