//! A tile's video: a canvas fed by the shell's frame channel (a loopback WebSocket carrying
//! decoded I420 frames, newest only), drawn with WebGL — or, in a webview without WebGL, by
//! converting to RGB in wasm onto a 2D canvas. Frames never pass through Leptos signals.

mod webgl;

use confab_ipc::meeting::{FrameChannel, FrameHeader};
use js_sys::{ArrayBuffer, Uint8Array};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{
    BinaryType, CanvasRenderingContext2d, HtmlCanvasElement, MessageEvent, ResizeObserver,
    WebSocket,
};

use self::webgl::YuvRenderer;

/// The largest size a tile asks for (a 1080p screen share on a full window).
const MAX_WIDTH: u32 = 1920;
const MAX_HEIGHT: u32 = 1080;

/// How a canvas draws.
enum Renderer {
    WebGl(YuvRenderer),
    Canvas2d(CanvasRenderingContext2d),
}

/// One track's video in a canvas. The canvas carries what it drew for tests and tools:
/// `data-renderer` (`webgl` or `2d`), `data-frames`, `data-source-size` (the size decoded, i.e.
/// the simulcast layer the server sends) and `data-counter` (the test pattern's).
#[component]
pub fn VideoView(track: String, channel: FrameChannel) -> impl IntoView {
    let canvas_ref = NodeRef::<html::Canvas>::new();
    let socket = StoredValue::new_local(None::<FrameSocket>);
    canvas_ref.on_load(move |canvas| {
        let canvas: HtmlCanvasElement = canvas;
        let (width, height) = shown_size(&canvas);
        let url = channel.track_url(&track, width, height);
        let opened = open(&url, canvas.clone()).map(|mut opened| {
            opened.resize = follow_size(&canvas, &opened.socket, (width, height));
            opened
        });
        socket.set_value(opened);
    });
    on_cleanup(move || {
        socket.with_value(|socket| {
            if let Some(socket) = socket {
                let _ = socket.socket.close();
                if let Some((observer, _)) = &socket.resize {
                    observer.disconnect();
                }
            }
        });
    });
    view! { <canvas class="video" node_ref=canvas_ref data-frames="0"></canvas> }
}

fn device_pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |window| window.device_pixel_ratio())
}

/// The canvas's size on screen in device pixels (at least 320×180, at most 1080p).
fn shown_size(canvas: &HtmlCanvasElement) -> (u32, u32) {
    let width = (f64::from(canvas.client_width().max(320)) * device_pixel_ratio()) as u32;
    let height = (f64::from(canvas.client_height().max(180)) * device_pixel_ratio()) as u32;
    (width.min(MAX_WIDTH), height.min(MAX_HEIGHT))
}

/// A canvas's size watcher and the handler it calls (kept together, alive with the tile).
type SizeWatch = (ResizeObserver, Closure<dyn FnMut(js_sys::Array)>);

/// How much a tile's size must change before the shell hears of it (a layout change, not a
/// window dragged by a few pixels).
const RESIZE_SHARE: f64 = 0.15;

/// Tells the shell `WxH` when the canvas is resized enough (a larger tile gets a larger
/// layer from the server, a smaller one a smaller layer).
fn follow_size(
    canvas: &HtmlCanvasElement,
    socket: &WebSocket,
    sent: (u32, u32),
) -> Option<SizeWatch> {
    let (observed, socket) = (canvas.clone(), socket.clone());
    let mut sent = sent;
    let on_resize = Closure::<dyn FnMut(js_sys::Array)>::new(move |_entries: js_sys::Array| {
        let now = shown_size(&observed);
        let changed = |a: u32, b: u32| f64::from(a.abs_diff(b)) > f64::from(b) * RESIZE_SHARE;
        if (changed(now.0, sent.0) || changed(now.1, sent.1))
            && socket.ready_state() == WebSocket::OPEN
            && socket
                .send_with_str(&format!("{}x{}", now.0, now.1))
                .is_ok()
        {
            sent = now;
        }
    });
    let observer = ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
    observer.observe(canvas);
    Some((observer, on_resize))
}

/// A tile's open frame socket and the handler that draws what it brings (kept together: the
/// handler lives exactly as long as the tile).
struct FrameSocket {
    socket: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    /// Watches the canvas's size while the tile lives.
    resize: Option<SizeWatch>,
}

/// Opens the frame socket and draws every frame it brings on `canvas`.
fn open(url: &str, canvas: HtmlCanvasElement) -> Option<FrameSocket> {
    let socket = WebSocket::new(url).ok()?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let renderer = match YuvRenderer::new(&canvas) {
        Some(renderer) => Renderer::WebGl(renderer),
        None => Renderer::Canvas2d(canvas.get_context("2d").ok()??.dyn_into().ok()?),
    };
    let name = match renderer {
        Renderer::WebGl(_) => "webgl",
        Renderer::Canvas2d(_) => "2d",
    };
    let _ = canvas.set_attribute("data-renderer", name);
    let mut frames = 0u64;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Ok(buffer) = event.data().dyn_into::<ArrayBuffer>() else {
            return;
        };
        let head = Uint8Array::new_with_byte_offset_and_length(
            &buffer,
            0,
            (FrameHeader::LEN as u32).min(buffer.byte_length()),
        )
        .to_vec();
        let Some(header) =
            FrameHeader::read(&head).filter(|header| header.fits(buffer.byte_length() as usize))
        else {
            return;
        };
        if canvas.width() != header.width || canvas.height() != header.height {
            canvas.set_width(header.width);
            canvas.set_height(header.height);
        }
        match &renderer {
            Renderer::WebGl(gl) => gl.draw(
                &buffer,
                FrameHeader::LEN as u32,
                header.width,
                header.height,
            ),
            Renderer::Canvas2d(context) => draw_2d(context, &buffer, header),
        }
        frames += 1;
        let _ = canvas.set_attribute("data-frames", &frames.to_string());
        let source = format!("{}x{}", header.source_width, header.source_height);
        let _ = canvas.set_attribute("data-source-size", &source);
        if let Some(counter) = header.counter {
            let _ = canvas.set_attribute("data-counter", &counter.to_string());
        }
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Some(FrameSocket {
        socket,
        _on_message: on_message,
        resize: None,
    })
}

/// Converts the frame to RGBA in wasm (BT.601 video range, as the shader does) and puts it.
fn draw_2d(context: &CanvasRenderingContext2d, buffer: &ArrayBuffer, header: FrameHeader) {
    let data = Uint8Array::new(buffer).to_vec();
    let planes = &data[FrameHeader::LEN..];
    let (width, height) = (header.width as usize, header.height as usize);
    let chroma_width = width.div_ceil(2);
    let (luma, chroma) = planes.split_at(width * height);
    let (u, v) = chroma.split_at(chroma.len() / 2);
    let mut rgba = vec![255u8; width * height * 4];
    for row in 0..height {
        for column in 0..width {
            let y = 1.1643 * (f32::from(luma[row * width + column]) - 16.0);
            let at = (row / 2) * chroma_width + column / 2;
            let (cu, cv) = (f32::from(u[at]) - 128.0, f32::from(v[at]) - 128.0);
            let pixel = (row * width + column) * 4;
            rgba[pixel] = (y + 1.5958 * cv).clamp(0.0, 255.0) as u8;
            rgba[pixel + 1] = (y - 0.39173 * cu - 0.81290 * cv).clamp(0.0, 255.0) as u8;
            rgba[pixel + 2] = (y + 2.017 * cu).clamp(0.0, 255.0) as u8;
        }
    }
    if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&rgba),
        header.width,
        header.height,
    ) {
        let _ = context.put_image_data(&image, 0.0, 0.0);
    }
}
