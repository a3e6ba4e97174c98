use leptos::prelude::*;

use crate::ipc::Backend;
use crate::pages::home::Home;

/// The root component. The backend is injected so tests can run the real UI against a mock.
#[component]
pub fn App(backend: Backend) -> impl IntoView {
    provide_context(backend);
    view! { <Home /> }
}
