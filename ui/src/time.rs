//! Waiting in the browser without blocking it: a `setTimeout` as a future.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Resolves after `ms` milliseconds.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// The clock's time of day `HH:MM` for a Unix-milliseconds timestamp, in local time.
pub fn clock(unix_ms: i64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(unix_ms as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}
