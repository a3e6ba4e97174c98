//! The bridge to Tauri's IPC (`window.__TAURI_INTERNALS__.invoke`), which Tauri injects into
//! every page it serves. It needs no `withGlobalTauri` and no JavaScript package.

use confab_ipc::{CommandError, ErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI_INTERNALS__"], js_name = invoke, catch)]
    async fn invoke_raw(command: &str, args: JsValue) -> Result<JsValue, JsValue>;
}

/// Arguments of a command that takes none (Tauri expects an object, not `undefined`).
#[derive(Debug, Serialize)]
pub struct NoArgs {}

/// Whether this page runs inside the Tauri webview.
pub fn available() -> bool {
    web_sys::window()
        .map(|window| js_sys::Reflect::has(&window, &JsValue::from_str("__TAURI_INTERNALS__")))
        .and_then(Result::ok)
        .unwrap_or(false)
}

/// Calls a shell command with typed arguments and result. A rejected call arrives as the
/// shell's `{kind, message}`; anything else that goes wrong is an [`ErrorKind::Ipc`] error.
pub async fn invoke<A, R>(command: &str, args: &A) -> Result<R, CommandError>
where
    A: Serialize,
    R: DeserializeOwned,
{
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| ipc_error(command, &error.to_string()))?;
    match invoke_raw(command, args).await {
        Ok(value) => serde_wasm_bindgen::from_value(value)
            .map_err(|error| ipc_error(command, &format!("unexpected reply: {error}"))),
        Err(rejection) => Err(
            serde_wasm_bindgen::from_value::<CommandError>(rejection.clone())
                .unwrap_or_else(|_| ipc_error(command, &describe_js(&rejection))),
        ),
    }
}

fn ipc_error(command: &str, detail: &str) -> CommandError {
    CommandError::new(ErrorKind::Ipc, format!("`{command}` failed: {detail}"))
}

fn describe_js(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| format!("{value:?}"))
}
