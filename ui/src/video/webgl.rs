//! Draws I420 frames with WebGL: the three planes go up as textures straight from the frame
//! channel's buffer (no copy into wasm), and a shader converts BT.601 video-range YUV to RGB.

use js_sys::{ArrayBuffer, Uint8Array};
use web_sys::{
    HtmlCanvasElement, WebGlContextAttributes, WebGlProgram, WebGlRenderingContext as Gl,
    WebGlShader, WebGlTexture,
};

const VERTEX: &str = "
attribute vec2 position;
varying vec2 uv;
void main() {
    uv = vec2((position.x + 1.0) / 2.0, (1.0 - position.y) / 2.0);
    gl_Position = vec4(position, 0.0, 1.0);
}";

const FRAGMENT: &str = "
precision mediump float;
varying vec2 uv;
uniform sampler2D plane_y;
uniform sampler2D plane_u;
uniform sampler2D plane_v;
void main() {
    float y = 1.1643 * (texture2D(plane_y, uv).r - 0.0625);
    float u = texture2D(plane_u, uv).r - 0.5;
    float v = texture2D(plane_v, uv).r - 0.5;
    gl_FragColor = vec4(y + 1.5958 * v, y - 0.39173 * u - 0.81290 * v, y + 2.017 * u, 1.0);
}";

/// A canvas's WebGL renderer of I420 frames.
#[derive(Debug)]
pub struct YuvRenderer {
    gl: Gl,
    textures: [WebGlTexture; 3],
    /// The size the textures were allocated at: frames of that size only replace their
    /// pixels (`texSubImage2D`), which spares a software GL a reallocation per plane.
    allocated: std::cell::Cell<(u32, u32)>,
}

impl YuvRenderer {
    /// None when the webview offers no WebGL (the caller falls back to a 2D canvas).
    pub fn new(canvas: &HtmlCanvasElement) -> Option<Self> {
        let attributes = WebGlContextAttributes::new();
        // Keeps the last frame readable (tests read the stamp back from the canvas).
        attributes.set_preserve_drawing_buffer(true);
        attributes.set_antialias(false);
        let gl: Gl = canvas
            .get_context_with_context_options("webgl", &attributes)
            .ok()??
            .dyn_into()
            .ok()?;
        let program = link(&gl)?;
        gl.use_program(Some(&program));
        let quad = gl.create_buffer()?;
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&quad));
        let corners =
            js_sys::Float32Array::from(&[-1.0f32, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0][..]);
        gl.buffer_data_with_array_buffer_view(Gl::ARRAY_BUFFER, &corners, Gl::STATIC_DRAW);
        let position = u32::try_from(gl.get_attrib_location(&program, "position")).ok()?;
        gl.enable_vertex_attrib_array(position);
        gl.vertex_attrib_pointer_with_i32(position, 2, Gl::FLOAT, false, 0, 0);
        gl.pixel_storei(Gl::UNPACK_ALIGNMENT, 1);
        let texture = |unit: u32, name: &str| -> Option<WebGlTexture> {
            let texture = gl.create_texture()?;
            gl.active_texture(Gl::TEXTURE0 + unit);
            gl.bind_texture(Gl::TEXTURE_2D, Some(&texture));
            for (parameter, value) in [
                (Gl::TEXTURE_MIN_FILTER, Gl::LINEAR),
                (Gl::TEXTURE_MAG_FILTER, Gl::LINEAR),
                (Gl::TEXTURE_WRAP_S, Gl::CLAMP_TO_EDGE),
                (Gl::TEXTURE_WRAP_T, Gl::CLAMP_TO_EDGE),
            ] {
                gl.tex_parameteri(Gl::TEXTURE_2D, parameter, value as i32);
            }
            let location = gl.get_uniform_location(&program, name)?;
            gl.uniform1i(Some(&location), unit as i32);
            Some(texture)
        };
        let textures = [
            texture(0, "plane_y")?,
            texture(1, "plane_u")?,
            texture(2, "plane_v")?,
        ];
        Some(Self {
            gl,
            textures,
            allocated: std::cell::Cell::new((0, 0)),
        })
    }

    /// Draws one frame whose planes follow `offset` in `buffer`.
    pub fn draw(&self, buffer: &ArrayBuffer, offset: u32, width: u32, height: u32) {
        let gl = &self.gl;
        let (chroma_width, chroma_height) = (width.div_ceil(2), height.div_ceil(2));
        let same_size = self.allocated.get() == (width, height);
        let planes = [
            (offset, width, height),
            (offset + width * height, chroma_width, chroma_height),
            (
                offset + width * height + chroma_width * chroma_height,
                chroma_width,
                chroma_height,
            ),
        ];
        for (unit, (texture, (start, plane_width, plane_height))) in
            self.textures.iter().zip(planes).enumerate()
        {
            let view = Uint8Array::new_with_byte_offset_and_length(
                buffer,
                start,
                plane_width * plane_height,
            );
            gl.active_texture(Gl::TEXTURE0 + unit as u32);
            gl.bind_texture(Gl::TEXTURE_2D, Some(texture));
            let _ = if same_size {
                gl.tex_sub_image_2d_with_i32_and_i32_and_u32_and_type_and_opt_array_buffer_view(
                    Gl::TEXTURE_2D,
                    0,
                    0,
                    0,
                    plane_width as i32,
                    plane_height as i32,
                    Gl::LUMINANCE,
                    Gl::UNSIGNED_BYTE,
                    Some(&view),
                )
            } else {
                gl.tex_image_2d_with_i32_and_i32_and_i32_and_format_and_type_and_opt_array_buffer_view(
                    Gl::TEXTURE_2D,
                    0,
                    Gl::LUMINANCE as i32,
                    plane_width as i32,
                    plane_height as i32,
                    0,
                    Gl::LUMINANCE,
                    Gl::UNSIGNED_BYTE,
                    Some(&view),
                )
            };
        }
        self.allocated.set((width, height));
        gl.viewport(0, 0, width as i32, height as i32);
        gl.draw_arrays(Gl::TRIANGLE_STRIP, 0, 4);
    }
}

use wasm_bindgen::JsCast;

fn compile(gl: &Gl, kind: u32, source: &str) -> Option<WebGlShader> {
    let shader = gl.create_shader(kind)?;
    gl.shader_source(&shader, source);
    gl.compile_shader(&shader);
    gl.get_shader_parameter(&shader, Gl::COMPILE_STATUS)
        .as_bool()
        .unwrap_or(false)
        .then_some(shader)
}

fn link(gl: &Gl) -> Option<WebGlProgram> {
    let program = gl.create_program()?;
    gl.attach_shader(&program, &compile(gl, Gl::VERTEX_SHADER, VERTEX)?);
    gl.attach_shader(&program, &compile(gl, Gl::FRAGMENT_SHADER, FRAGMENT)?);
    gl.link_program(&program);
    gl.get_program_parameter(&program, Gl::LINK_STATUS)
        .as_bool()
        .unwrap_or(false)
        .then_some(program)
}
