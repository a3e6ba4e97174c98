//! The app's secrets in a real Secret Service (GNOME Keyring on a private bus): kept, read
//! back, replaced, forgotten; and never written to the keyring's files in the clear.

#[path = "shared/keyring.rs"]
mod keyring;

use keyring::PrivateKeyring;

const ACCOUNT: &str = "APIkey@wss://livekit.example";
const SECRET: &str = "s3cr3t-value-that-must-not-leak";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_kept_read_replaced_and_forgotten() {
    let keyring = PrivateKeyring::start("kept").await;
    let store = keyring.store();
    assert_eq!(store.load(ACCOUNT).await.expect("read"), None);

    store
        .save(ACCOUNT, "Confab: LiveKit secret", SECRET)
        .await
        .expect("kept");
    assert_eq!(
        store.load(ACCOUNT).await.expect("read").as_deref(),
        Some(SECRET)
    );
    assert_eq!(store.load("other@wss://x").await.expect("read"), None);
    for file in keyring.files() {
        assert!(
            !file
                .windows(SECRET.len())
                .any(|window| window == SECRET.as_bytes()),
            "a keyring file holds the secret in the clear"
        );
    }

    store
        .save(ACCOUNT, "Confab: LiveKit secret", "replaced")
        .await
        .expect("replaced");
    assert_eq!(
        store.load(ACCOUNT).await.expect("read").as_deref(),
        Some("replaced")
    );

    store.delete(ACCOUNT).await.expect("forgotten");
    assert_eq!(store.load(ACCOUNT).await.expect("read"), None);
    store
        .delete(ACCOUNT)
        .await
        .expect("forgetting twice is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_error_says_so() {
    let store = confab_app::secrets::SecretStore::at_bus("unix:path=/nonexistent/confab-bus");
    let error = store.load(ACCOUNT).await.expect_err("no bus");
    assert!(
        error.to_string().contains("keyring cannot be reached"),
        "{error}"
    );
}
