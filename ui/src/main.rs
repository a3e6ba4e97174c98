//! Entry point of the wasm bundle trunk builds: mount the app into the page.

use confab_ui::{App, ipc::Backend};
use leptos::prelude::*;

fn main() {
    let backend = Backend::detect();
    leptos::mount::mount_to_body(move || view! { <App backend /> });
}
