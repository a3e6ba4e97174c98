//! Component tests for the home screen, run in headless Chromium by wasm-bindgen-test.
//!
//! Each test mounts the real components into its own container, drives them with DOM events as
//! a person would, and waits (with a deadline) for the DOM to show the expected state.
#![cfg(target_arch = "wasm32")]

use confab_ipc::{AppInfo, CommandError, ErrorKind, MeetingCode};
use confab_ui::App;
use confab_ui::components::join_form::JoinForm;
use confab_ui::ipc::{Backend, mock::MockBackend};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, Event, EventInit, HtmlButtonElement, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

const DEADLINE_MS: f64 = 5_000.0;

struct Mounted {
    container: HtmlElement,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    fn new(view: impl FnOnce() -> AnyView + 'static) -> Self {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .expect("document");
        let container: HtmlElement = document
            .create_element("div")
            .expect("div")
            .unchecked_into();
        document
            .body()
            .expect("body")
            .append_child(&container)
            .expect("append");
        let handle = leptos::mount::mount_to(container.clone(), view);
        Self {
            container,
            _handle: handle,
        }
    }

    fn find(&self, selector: &str) -> Option<Element> {
        self.container
            .query_selector(selector)
            .expect("valid selector")
    }

    fn get(&self, selector: &str) -> Element {
        self.find(selector)
            .unwrap_or_else(|| panic!("{selector} is not on screen"))
    }

    fn text(&self, selector: &str) -> Option<String> {
        self.find(selector)
            .and_then(|element| element.text_content())
    }

    fn type_into(&self, selector: &str, value: &str) {
        let input: HtmlInputElement = self.get(selector).unchecked_into();
        input.set_value(value);
        let init = EventInit::new();
        init.set_bubbles(true);
        let event = Event::new_with_event_init_dict("input", &init).expect("event");
        input.dispatch_event(&event).expect("dispatch");
    }

    fn blur(&self, selector: &str) {
        let event = Event::new("blur").expect("event");
        self.get(selector).dispatch_event(&event).expect("dispatch");
    }

    fn click(&self, selector: &str) {
        let button: HtmlButtonElement = self.get(selector).unchecked_into();
        button.click();
    }

    /// Yields to the browser until `condition` holds, failing after a deadline.
    async fn wait_until(&self, what: &str, condition: impl Fn(&Self) -> bool) {
        let start = js_sys::Date::now();
        while !condition(self) {
            assert!(
                js_sys::Date::now() - start < DEADLINE_MS,
                "timed out waiting for {what}; screen: {}",
                self.container.inner_html()
            );
            next_task().await;
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.container.remove();
    }
}

async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .expect("setTimeout");
    });
    JsFuture::from(promise).await.expect("timer");
}

fn join_form_with_recorder() -> (Mounted, ReadSignal<Option<MeetingCode>>) {
    let (joined, set_joined) = signal(None::<MeetingCode>);
    let on_join = Callback::new(move |code| set_joined.set(Some(code)));
    let mounted = Mounted::new(move || view! { <JoinForm on_join /> }.into_any());
    (mounted, joined)
}

#[wasm_bindgen_test]
async fn a_malformed_code_shows_an_inline_error_and_does_not_join() {
    let (screen, joined) = join_form_with_recorder();
    screen.type_into("#join-code", "hello");
    screen.click("#join-button");
    screen
        .wait_until("the error", |s| s.find("#join-code-error").is_some())
        .await;
    let message = screen.text("#join-code-error").expect("error text");
    assert!(message.contains("abc-defg-hij"), "{message}");
    assert_eq!(
        screen
            .get("#join-code")
            .get_attribute("aria-invalid")
            .as_deref(),
        Some("true")
    );
    assert!(screen.find("#join-status").is_none());
    assert_eq!(joined.get_untracked(), None);
}

#[wasm_bindgen_test]
async fn fixing_the_code_clears_the_error_and_joins_with_the_canonical_code() {
    let (screen, joined) = join_form_with_recorder();
    screen.type_into("#join-code", "abc-defg");
    screen.click("#join-button");
    screen
        .wait_until("the error", |s| s.find("#join-code-error").is_some())
        .await;

    screen.type_into("#join-code", " ABC-DEFG-HIJ ");
    screen
        .wait_until("the error to clear", |s| {
            s.find("#join-code-error").is_none()
        })
        .await;
    assert_eq!(
        screen
            .get("#join-code")
            .get_attribute("aria-invalid")
            .as_deref(),
        Some("false")
    );
    screen.click("#join-button");
    screen
        .wait_until("the join status", |s| s.find("#join-status").is_some())
        .await;
    assert!(
        screen
            .text("#join-status")
            .is_some_and(|t| t.contains("abc-defg-hij"))
    );
    assert_eq!(
        joined.get_untracked(),
        Some(MeetingCode::parse("abc-defg-hij").expect("valid"))
    );
}

#[wasm_bindgen_test]
async fn typing_alone_does_not_nag_but_leaving_the_field_does() {
    let (screen, _joined) = join_form_with_recorder();
    screen.type_into("#join-code", "ab");
    // Let every pending reactive update run before asserting that nothing appeared.
    for _ in 0..5 {
        next_task().await;
    }
    assert!(screen.find("#join-code-error").is_none());

    screen.blur("#join-code");
    screen
        .wait_until("the error after blur", |s| {
            s.find("#join-code-error").is_some()
        })
        .await;
}

#[wasm_bindgen_test]
async fn the_error_names_a_character_that_cannot_be_in_a_code() {
    let (screen, _joined) = join_form_with_recorder();
    screen.type_into("#join-code", "abc-d3fg-hij");
    screen.click("#join-button");
    screen
        .wait_until("the error", |s| s.find("#join-code-error").is_some())
        .await;
    let message = screen.text("#join-code-error").expect("error text");
    assert!(message.contains("“3”"), "{message}");
}

fn sample_info() -> AppInfo {
    AppInfo {
        name: "Confab".into(),
        version: "9.8.7".into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        tauri_version: "2.12.5".into(),
        webview_version: "2.50.6".into(),
    }
}

#[wasm_bindgen_test]
async fn home_screen_shows_both_actions_and_the_backend_version() {
    let backend = Backend::Mock(MockBackend::new(Ok(sample_info())));
    let screen = Mounted::new(move || view! { <App backend /> }.into_any());
    assert_eq!(
        screen.text("#host-button").as_deref(),
        Some("Host a meeting")
    );
    assert!(screen.find("#join-code").is_some());
    screen
        .wait_until("the app info", |s| {
            s.text("#app-info").is_some_and(|t| t.contains("9.8.7"))
        })
        .await;
    assert_eq!(
        screen.text("#app-info").as_deref(),
        Some("Confab 9.8.7 · linux x86_64 · webview 2.50.6")
    );
}

#[wasm_bindgen_test]
async fn a_failing_backend_is_reported_not_hidden() {
    let failure = CommandError::new(ErrorKind::Webview, "WebKitGTK is missing");
    let backend = Backend::Mock(MockBackend::new(Err(failure)));
    let screen = Mounted::new(move || view! { <App backend /> }.into_any());
    screen
        .wait_until("the failure", |s| {
            s.text("#app-info")
                .is_some_and(|t| t.contains("WebKitGTK is missing"))
        })
        .await;
}

#[wasm_bindgen_test]
async fn host_button_says_plainly_that_hosting_is_not_built_yet() {
    let backend = Backend::Mock(MockBackend::preview());
    let screen = Mounted::new(move || view! { <App backend /> }.into_any());
    screen.click("#host-button");
    screen
        .wait_until("the host notice", |s| s.find("#host-status").is_some())
        .await;
    assert!(
        screen
            .text("#host-status")
            .is_some_and(|t| t.contains("not in this build yet"))
    );
}
