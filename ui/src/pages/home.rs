use leptos::prelude::*;

use crate::components::app_info_footer::AppInfoFooter;
use crate::components::host_card::HostCard;
use crate::components::join_form::JoinForm;

/// The first screen: host a meeting or join one by code.
#[component]
pub fn Home() -> impl IntoView {
    view! {
        <main class="home">
            <header class="brand">
                <img class="brand-logo" src="/logo.svg" alt="" width="56" height="56" />
                <div>
                    <h1>"Confab"</h1>
                    <p class="tagline">"Meetings hosted on your own computer."</p>
                </div>
            </header>
            <section class="actions" aria-label="Start or join a meeting">
                <HostCard />
                <JoinForm />
            </section>
            <AppInfoFooter />
        </main>
    }
}
