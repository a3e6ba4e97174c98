//! The client engine (`Room`) against the embedded SFU, in-process over loopback.

mod common;

use std::net::SocketAddr;

use common::join_token;
use confab_sfu::{ApiKeys, RunningSfu, SfuConfig};

const KEY: &str = "APIroom";
const SECRET: &str = "room-secret-room-secret-room-secret";

async fn start_sfu() -> RunningSfu {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let config = SfuConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        ApiKeys::parse(&format!("{KEY}: {SECRET}")).expect("keys"),
    );
    confab_sfu::start(config).await.expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_media_chat_and_mute() {
    let sfu = start_sfu().await;
    let url = format!("http://{}", sfu.local_addr());
    common::scenarios::two_clients_exchange_media_chat_and_mute(&url, |identity| {
        join_token(KEY, SECRET, "media", identity)
    })
    .await;
}
