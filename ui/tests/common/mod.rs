//! What the component tests share: mounting components in a container of their own, driving
//! them with DOM events as a person would, and waiting for the DOM with a deadline.
#![allow(dead_code)]

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, Event, EventInit, HtmlButtonElement, HtmlElement, HtmlInputElement};

pub const DEADLINE_MS: f64 = 5_000.0;

pub struct Mounted {
    container: HtmlElement,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    pub fn new(view: impl FnOnce() -> AnyView + 'static) -> Self {
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

    pub fn find(&self, selector: &str) -> Option<Element> {
        self.container
            .query_selector(selector)
            .expect("valid selector")
    }

    pub fn get(&self, selector: &str) -> Element {
        self.find(selector)
            .unwrap_or_else(|| panic!("{selector} is not on screen"))
    }

    pub fn text(&self, selector: &str) -> Option<String> {
        self.find(selector)
            .and_then(|element| element.text_content())
    }

    pub fn type_into(&self, selector: &str, value: &str) {
        let input: HtmlInputElement = self.get(selector).unchecked_into();
        input.set_value(value);
        let init = EventInit::new();
        init.set_bubbles(true);
        let event = Event::new_with_event_init_dict("input", &init).expect("event");
        input.dispatch_event(&event).expect("dispatch");
    }

    pub fn blur(&self, selector: &str) {
        let event = Event::new("blur").expect("event");
        self.get(selector).dispatch_event(&event).expect("dispatch");
    }

    pub fn click(&self, selector: &str) {
        let button: HtmlButtonElement = self.get(selector).unchecked_into();
        button.click();
    }

    /// Yields to the browser until `condition` holds, failing after a deadline.
    pub async fn wait_until(&self, what: &str, condition: impl Fn(&Self) -> bool) {
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

pub async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .expect("setTimeout");
    });
    JsFuture::from(promise).await.expect("timer");
}

impl Mounted {
    pub fn select(&self, selector: &str, value: &str) {
        let select: web_sys::HtmlSelectElement = self.get(selector).unchecked_into();
        select.set_value(value);
        let init = EventInit::new();
        init.set_bubbles(true);
        let event = Event::new_with_event_init_dict("change", &init).expect("event");
        select.dispatch_event(&event).expect("dispatch");
    }

    pub fn count(&self, selector: &str) -> u32 {
        self.container
            .query_selector_all(selector)
            .expect("valid selector")
            .length()
    }
}
