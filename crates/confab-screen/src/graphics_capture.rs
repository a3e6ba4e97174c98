//! Screen sharing on Windows through Windows Graphics Capture (Windows 10 version 1903 and
//! later): the screens from `EnumDisplayMonitors`, the windows a taskbar would show from
//! `EnumWindows`, and a free-threaded capture frame pool whose frames are copied from the GPU
//! into the share's [`NewestPicture`].
//!
//! This backend is compile-checked from Linux (`cargo check --target x86_64-pc-windows-gnu`
//! in `cargo xtask test`) and has never run: this project's CI has no Windows machine.
//!
//! Win32, Direct3D and COM interop calls are `unsafe fn`s; each `unsafe` block says what it
//! relies on.

#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use windows::Foundation::TypedEventHandler;
use windows::Graphics::Capture::{
    Direct3D11CaptureFramePool, GraphicsCaptureItem, GraphicsCaptureSession,
};
use windows::Graphics::DirectX::Direct3D11::IDirect3DDevice;
use windows::Graphics::DirectX::DirectXPixelFormat;
use windows::Graphics::SizeInt32;
use windows::Win32::Foundation::{E_FAIL, HMODULE, HWND, LPARAM, RECT};
use windows::Win32::Graphics::Direct3D::{D3D_DRIVER_TYPE_HARDWARE, D3D_DRIVER_TYPE_WARP};
use windows::Win32::Graphics::Direct3D11::{
    D3D11_CPU_ACCESS_READ, D3D11_CREATE_DEVICE_BGRA_SUPPORT, D3D11_MAP_READ,
    D3D11_MAPPED_SUBRESOURCE, D3D11_SDK_VERSION, D3D11_TEXTURE2D_DESC, D3D11_USAGE_STAGING,
    D3D11CreateDevice, ID3D11Device, ID3D11DeviceContext, ID3D11Texture2D,
};
use windows::Win32::Graphics::Dwm::{
    DWMWA_CLOAKED, DWMWA_EXTENDED_FRAME_BOUNDS, DwmGetWindowAttribute,
};
use windows::Win32::Graphics::Dxgi::IDXGIDevice;
use windows::Win32::Graphics::Gdi::{
    EnumDisplayMonitors, GetMonitorInfoW, HDC, HMONITOR, MONITORINFO,
};
use windows::Win32::System::WinRT::Direct3D11::{
    CreateDirect3D11DeviceFromDXGIDevice, IDirect3DDxgiInterfaceAccess,
};
use windows::Win32::System::WinRT::Graphics::Capture::IGraphicsCaptureItemInterop;
use windows::Win32::UI::WindowsAndMessaging::{
    EnumWindows, GA_ROOT, GWL_EXSTYLE, GetAncestor, GetShellWindow, GetWindowLongW,
    GetWindowTextLengthW, GetWindowTextW, IsIconic, IsWindow, IsWindowVisible,
    MONITORINFOF_PRIMARY, WS_EX_TOOLWINDOW,
};
use windows::core::{BOOL, IInspectable, Interface, Ref};

use confab_frame::convert::PackedRgb;
use confab_frame::i420::I420Layout;
use confab_frame::source::{CaptureError, CapturedFrame, VideoSource};
use confab_frame::sync::lock;

use crate::newest::{NewestPicture, PictureRef};
use crate::{
    FramePacer, ScreenBackend, ScreenError, ShareKind, ShareOptions, ShareTarget,
    provisional_layout,
};

/// What Graphics Capture hands over: bytes B, G, R, A.
const PIXEL_FORMAT: DirectXPixelFormat = DirectXPixelFormat::B8G8R8A8UIntNormalized;
/// Frames the pool holds: one being read while the next is drawn.
const POOL_FRAMES: i32 = 2;

/// The desktop's screens and windows through Windows Graphics Capture.
#[derive(Debug)]
pub struct GraphicsCaptureScreens;

impl GraphicsCaptureScreens {
    /// Fails on Windows older than 10 version 1903, which has no Graphics Capture.
    pub fn new() -> Result<Self, ScreenError> {
        if !GraphicsCaptureSession::IsSupported().map_err(os_error)? {
            return Err(ScreenError::Unsupported(
                "this version of Windows (Graphics Capture needs Windows 10 version 1903 or later)",
            ));
        }
        Ok(Self)
    }
}

impl ScreenBackend for GraphicsCaptureScreens {
    fn name(&self) -> &'static str {
        "Windows Graphics Capture"
    }

    fn targets(&self) -> Result<Vec<ShareTarget>, ScreenError> {
        let screens = monitors()
            .into_iter()
            .enumerate()
            .map(|(index, monitor)| ShareTarget {
                id: format!("screen:{index}"),
                kind: ShareKind::Screen,
                name: if monitor.primary {
                    "Entire screen (main display)".into()
                } else {
                    format!("Entire screen (display {})", index + 1)
                },
                width: monitor.width,
                height: monitor.height,
            });
        let windows = top_level_windows().into_iter().filter_map(shareable_window);
        Ok(screens.chain(windows).collect())
    }

    fn open(&self, id: &str, options: ShareOptions) -> Result<Box<dyn VideoSource>, ScreenError> {
        let item = capture_item(id)?;
        Ok(Box::new(
            GraphicsCaptureShare::start(item, options).map_err(os_error)?,
        ))
    }
}

fn os_error(error: windows::core::Error) -> ScreenError {
    ScreenError::GraphicsCapture(error.message())
}

#[derive(Debug, Clone, Copy)]
struct Monitor {
    handle: HMONITOR,
    width: u32,
    height: u32,
    primary: bool,
}

fn side(from: i32, to: i32) -> u32 {
    u32::try_from(to.saturating_sub(from)).unwrap_or(0)
}

/// The screens in the order Windows enumerates them (stable while none is plugged in or out).
fn monitors() -> Vec<Monitor> {
    let mut handles: Vec<HMONITOR> = Vec::new();
    // SAFETY: the callback runs only during this call, and `handles` outlives it; the
    // callback is the only user of the pointer.
    let _ = unsafe {
        EnumDisplayMonitors(
            None,
            None,
            Some(collect_monitor),
            LPARAM(&raw mut handles as isize),
        )
    };
    handles
        .into_iter()
        .filter_map(|handle| {
            let mut info = MONITORINFO {
                cbSize: size_of::<MONITORINFO>() as u32,
                ..Default::default()
            };
            // SAFETY: `info` is a MONITORINFO with its size set, as the call requires; a
            // monitor unplugged since the enumeration makes it return false.
            let known = unsafe { GetMonitorInfoW(handle, &mut info) }.as_bool();
            known.then(|| Monitor {
                handle,
                width: side(info.rcMonitor.left, info.rcMonitor.right),
                height: side(info.rcMonitor.top, info.rcMonitor.bottom),
                primary: info.dwFlags & MONITORINFOF_PRIMARY != 0,
            })
        })
        .collect()
}

unsafe extern "system" fn collect_monitor(
    monitor: HMONITOR,
    _: HDC,
    _: *mut RECT,
    handles: LPARAM,
) -> BOOL {
    // SAFETY: `handles` is the `Vec` monitors() passed, alive and unaliased for the call.
    let handles = unsafe { &mut *(handles.0 as *mut Vec<HMONITOR>) };
    handles.push(monitor);
    true.into()
}

/// Every top-level window, from the top of the stacking order.
fn top_level_windows() -> Vec<HWND> {
    let mut handles: Vec<HWND> = Vec::new();
    // SAFETY: as in monitors(): `handles` outlives the synchronous enumeration.
    let listed = unsafe { EnumWindows(Some(collect_window), LPARAM(&raw mut handles as isize)) };
    if let Err(error) = listed {
        tracing::warn!(%error, "Windows did not list its windows");
    }
    handles
}

unsafe extern "system" fn collect_window(window: HWND, handles: LPARAM) -> BOOL {
    // SAFETY: `handles` is the `Vec` top_level_windows() passed, alive for the call.
    let handles = unsafe { &mut *(handles.0 as *mut Vec<HWND>) };
    handles.push(window);
    true.into()
}

fn window_id(window: HWND) -> String {
    format!("window:{:#x}", window.0 as usize)
}

/// A window as the share picker lists it, if it is one a person would share: shown, not
/// minimised, not a tool palette, not hidden on another virtual desktop, with a title.
fn shareable_window(window: HWND) -> Option<ShareTarget> {
    // SAFETY: every call takes a handle EnumWindows just gave and plain out-parameters of
    // the sizes passed; a window that closed meanwhile makes them fail, which is handled.
    unsafe {
        if window == GetShellWindow()
            || !IsWindowVisible(window).as_bool()
            || IsIconic(window).as_bool()
            || GetAncestor(window, GA_ROOT) != window
            || (GetWindowLongW(window, GWL_EXSTYLE) as u32) & WS_EX_TOOLWINDOW.0 != 0
        {
            return None;
        }
        let mut cloaked = 0u32;
        let cloaked_known = DwmGetWindowAttribute(
            window,
            DWMWA_CLOAKED,
            (&raw mut cloaked).cast::<c_void>(),
            size_of::<u32>() as u32,
        );
        if cloaked_known.is_ok() && cloaked != 0 {
            return None;
        }
        let length = usize::try_from(GetWindowTextLengthW(window))
            .ok()
            .filter(|&n| n > 0)?;
        let mut title = vec![0u16; length + 1];
        let copied = usize::try_from(GetWindowTextW(window, &mut title)).unwrap_or(0);
        let mut bounds = RECT::default();
        DwmGetWindowAttribute(
            window,
            DWMWA_EXTENDED_FRAME_BOUNDS,
            (&raw mut bounds).cast::<c_void>(),
            size_of::<RECT>() as u32,
        )
        .ok()?;
        Some(ShareTarget {
            id: window_id(window),
            kind: ShareKind::Window,
            name: String::from_utf16_lossy(&title[..copied.min(length)]),
            width: side(bounds.left, bounds.right),
            height: side(bounds.top, bounds.bottom),
        })
    }
}

/// The capture item for a target id from [`GraphicsCaptureScreens::targets`].
fn capture_item(id: &str) -> Result<GraphicsCaptureItem, ScreenError> {
    let not_found = || ScreenError::NotFound(id.to_owned());
    let interop = windows::core::factory::<GraphicsCaptureItem, IGraphicsCaptureItemInterop>()
        .map_err(os_error)?;
    if let Some(index) = id.strip_prefix("screen:") {
        let index: usize = index.parse().map_err(|_| not_found())?;
        let monitor = monitors().get(index).copied().ok_or_else(not_found)?;
        // SAFETY: the handle was enumerated just now; an unplugged screen is an error return.
        return unsafe { interop.CreateForMonitor(monitor.handle) }.map_err(os_error);
    }
    let handle = id
        .strip_prefix("window:0x")
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .ok_or_else(not_found)?;
    let window = HWND(handle as *mut c_void);
    // SAFETY: IsWindow accepts any value and says whether it names a window; a window that
    // closes between the two calls makes CreateForWindow fail, not misbehave.
    unsafe {
        if !IsWindow(Some(window)).as_bool() {
            return Err(not_found());
        }
        interop.CreateForWindow(window).map_err(os_error)
    }
}

/// A Direct3D 11 device: the GPU's when there is one, else WARP (Windows's software
/// rasteriser), so a virtual machine without a GPU can share too.
fn d3d_device() -> windows::core::Result<(ID3D11Device, ID3D11DeviceContext)> {
    let mut refused = windows::core::Error::from(E_FAIL);
    for driver in [D3D_DRIVER_TYPE_HARDWARE, D3D_DRIVER_TYPE_WARP] {
        let mut device = None;
        let mut context = None;
        // SAFETY: the out-pointers are to locals that outlive the call.
        let made = unsafe {
            D3D11CreateDevice(
                None,
                driver,
                HMODULE(std::ptr::null_mut()),
                D3D11_CREATE_DEVICE_BGRA_SUPPORT,
                None,
                D3D11_SDK_VERSION,
                Some(&mut device),
                None,
                Some(&mut context),
            )
        };
        match (made, device, context) {
            (Ok(()), Some(device), Some(context)) => return Ok((device, context)),
            (Err(error), _, _) => refused = error,
            _ => {}
        }
    }
    Err(refused)
}

/// The WinRT face of a Direct3D device, which the frame pool takes.
fn winrt_device(device: &ID3D11Device) -> windows::core::Result<IDirect3DDevice> {
    let dxgi: IDXGIDevice = device.cast()?;
    // SAFETY: `dxgi` is a live DXGI device; the call only wraps it.
    let inspectable = unsafe { CreateDirect3D11DeviceFromDXGIDevice(&dxgi)? };
    inspectable.cast()
}

/// Copies captured frames from the GPU into a CPU-readable texture, then into the picture.
#[derive(Debug)]
struct Copier {
    device: ID3D11Device,
    context: ID3D11DeviceContext,
    winrt_device: IDirect3DDevice,
    /// The staging texture and its size, remade when the captured size changes.
    staging: Option<(ID3D11Texture2D, u32, u32)>,
    pool_size: SizeInt32,
}

// SAFETY: a Direct3D 11 device is free-threaded. Its immediate context is not, and is only
// ever used by the frame handler while it holds the `Mutex` this `Copier` lives in.
unsafe impl Send for Copier {}

impl Copier {
    fn staging_for(
        &mut self,
        captured: &D3D11_TEXTURE2D_DESC,
    ) -> windows::core::Result<ID3D11Texture2D> {
        if let Some((texture, width, height)) = &self.staging
            && (*width, *height) == (captured.Width, captured.Height)
        {
            return Ok(texture.clone());
        }
        let desc = D3D11_TEXTURE2D_DESC {
            Width: captured.Width,
            Height: captured.Height,
            MipLevels: 1,
            ArraySize: 1,
            Format: captured.Format,
            SampleDesc: captured.SampleDesc,
            Usage: D3D11_USAGE_STAGING,
            BindFlags: 0,
            CPUAccessFlags: D3D11_CPU_ACCESS_READ.0 as u32,
            MiscFlags: 0,
        };
        let mut texture = None;
        // SAFETY: `desc` describes a valid staging texture; the out-pointer is a local.
        unsafe {
            self.device
                .CreateTexture2D(&desc, None, Some(&mut texture))?
        };
        let texture = texture.ok_or_else(|| windows::core::Error::from(E_FAIL))?;
        self.staging = Some((texture.clone(), captured.Width, captured.Height));
        Ok(texture)
    }

    /// Takes the pool's newest frame (older ones are dropped back to it) into `picture`.
    fn copy_newest(
        &mut self,
        pool: &Direct3D11CaptureFramePool,
        picture: &NewestPicture,
    ) -> windows::core::Result<()> {
        let mut newest = None;
        while let Ok(frame) = pool.TryGetNextFrame() {
            newest = Some(frame);
        }
        let Some(frame) = newest else {
            return Ok(());
        };
        let content = frame.ContentSize()?;
        let access: IDirect3DDxgiInterfaceAccess = frame.Surface()?.cast()?;
        // SAFETY: the frame's surface is a Direct3D 11 texture, kept alive by `frame`.
        let texture: ID3D11Texture2D = unsafe { access.GetInterface()? };
        let mut desc = D3D11_TEXTURE2D_DESC::default();
        // SAFETY: `desc` is a plain out-parameter.
        unsafe { texture.GetDesc(&mut desc) };
        let staging = self.staging_for(&desc)?;
        let mut mapped = D3D11_MAPPED_SUBRESOURCE::default();
        // SAFETY: both textures live on this device with the same size and format; the
        // context is ours alone (see `Copier`); `mapped` is a plain out-parameter.
        unsafe {
            self.context.CopyResource(&staging, &texture);
            self.context
                .Map(&staging, 0, D3D11_MAP_READ, 0, Some(&mut mapped))?;
        }
        // A window shrunk since the pool was made fills only part of its texture.
        let width = u32::try_from(content.Width).unwrap_or(0).min(desc.Width);
        let height = u32::try_from(content.Height).unwrap_or(0).min(desc.Height);
        let stride = mapped.RowPitch as usize;
        if width > 0 && height > 0 && !mapped.pData.is_null() && stride >= width as usize * 4 {
            let len = stride * (height as usize - 1) + width as usize * 4;
            // SAFETY: while mapped, `pData` points at `RowPitch` bytes for each of the
            // texture's `desc.Height` rows; `len` stays within the first `height` of them,
            // and the bytes are copied out before the unmap below.
            let pixels = unsafe { std::slice::from_raw_parts(mapped.pData.cast::<u8>(), len) };
            picture.put(PictureRef {
                pixels,
                width,
                height,
                stride,
                format: PackedRgb::BGRX,
            });
        }
        // SAFETY: unmaps what was mapped above, after the last read of its bytes.
        unsafe { self.context.Unmap(&staging, 0) };
        // A window that changed size: the pool follows, so the next frames are whole.
        if content != self.pool_size && content.Width > 0 && content.Height > 0 {
            pool.Recreate(&self.winrt_device, PIXEL_FORMAT, POOL_FRAMES, content)?;
            self.pool_size = content;
        }
        Ok(())
    }
}

/// A running Graphics Capture share. Windows draws a border around what is shared.
#[derive(Debug)]
pub struct GraphicsCaptureShare {
    picture: Arc<NewestPicture>,
    session: GraphicsCaptureSession,
    pool: Direct3D11CaptureFramePool,
    provisional: I420Layout,
    pacer: FramePacer,
}

impl GraphicsCaptureShare {
    fn start(item: GraphicsCaptureItem, options: ShareOptions) -> windows::core::Result<Self> {
        let (device, context) = d3d_device()?;
        let winrt_device = winrt_device(&device)?;
        let size = item.Size()?;
        let pool = Direct3D11CaptureFramePool::CreateFreeThreaded(
            &winrt_device,
            PIXEL_FORMAT,
            POOL_FRAMES,
            size,
        )?;
        let picture = Arc::new(NewestPicture::default());
        let copier = Mutex::new(Copier {
            device,
            context,
            winrt_device,
            staging: None,
            pool_size: size,
        });
        let on_frame = Arc::clone(&picture);
        pool.FrameArrived(
            &TypedEventHandler::<Direct3D11CaptureFramePool, IInspectable>::new(
                move |pool: Ref<Direct3D11CaptureFramePool>, _| {
                    let pool = pool.ok()?;
                    if let Err(error) = lock(&copier).copy_newest(pool, &on_frame) {
                        on_frame.end(format!(
                            "a captured frame could not be read: {}",
                            error.message()
                        ));
                    }
                    Ok(())
                },
            ),
        )?;
        let on_closed = Arc::clone(&picture);
        item.Closed(
            &TypedEventHandler::<GraphicsCaptureItem, IInspectable>::new(move |_, _| {
                on_closed.end("the shared window or screen went away".into());
                Ok(())
            }),
        )?;
        let session = pool.CreateCaptureSession(&item)?;
        // Windows 10 version 2004 and later; earlier ones always draw the pointer.
        if let Err(error) = session.SetIsCursorCaptureEnabled(options.cursor) {
            tracing::debug!(%error, "this Windows always draws the pointer into a capture");
        }
        session.StartCapture()?;
        let provisional = provisional_layout(
            u32::try_from(size.Width)
                .ok()
                .zip(u32::try_from(size.Height).ok()),
        );
        Ok(Self {
            picture,
            session,
            pool,
            provisional,
            pacer: FramePacer::new(options.max_fps),
        })
    }
}

impl VideoSource for GraphicsCaptureShare {
    fn layout(&self) -> I420Layout {
        self.picture.layout_or(self.provisional)
    }

    fn capture(&mut self) -> Result<CapturedFrame, CaptureError> {
        self.pacer.wait();
        self.picture.newest()
    }
}

impl Drop for GraphicsCaptureShare {
    fn drop(&mut self) {
        if let Err(error) = self.session.Close() {
            tracing::debug!(%error, "the capture session did not close");
        }
        if let Err(error) = self.pool.Close() {
            tracing::debug!(%error, "the capture frame pool did not close");
        }
    }
}
