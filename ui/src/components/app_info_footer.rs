use leptos::prelude::*;

use crate::ipc::use_backend;

/// Version and platform, fetched from the shell: the first real command round-trip.
#[component]
pub fn AppInfoFooter() -> impl IntoView {
    let backend = use_backend();
    let is_preview = backend.is_mock();
    let info = LocalResource::new(move || {
        let backend = backend.clone();
        async move { backend.app_info().await }
    });
    view! {
        <footer class="app-info">
            <span id="app-info">
                {move || match info.get() {
                    None => "Connecting to the app…".to_owned(),
                    Some(Ok(info)) => info.summary(),
                    Some(Err(error)) => format!("Could not reach the app: {}", error.message),
                }}
            </span>
            {is_preview.then(|| view! { <span class="preview-badge">"browser preview"</span> })}
        </footer>
    }
}
