//! Waiting on conditions with deadlines instead of sleeping for a guessed time.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::HarnessError;

/// How often a condition that cannot notify us is re-checked.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Re-evaluates `check` until it yields `Some`, or fails once `timeout` has passed.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                timeout,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until something accepts TCP connections on `address`.
pub async fn for_listener(address: SocketAddr, timeout: Duration) -> Result<(), HarnessError> {
    until(
        &format!("a listener on {address}"),
        timeout,
        || async move { tokio::net::TcpStream::connect(address).await.ok().map(drop) },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_once_the_condition_holds() {
        let mut calls = 0;
        let value = until("three calls", Duration::from_secs(5), || {
            calls += 1;
            let ready = calls >= 3;
            async move { ready.then_some(calls) }
        })
        .await
        .expect("condition met");
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn times_out_naming_what_it_waited_for() {
        let mut checks = 0;
        let error = until("never", Duration::from_millis(100), || {
            checks += 1;
            async { None::<()> }
        })
        .await
        .expect_err("must time out");
        assert_eq!(error.to_string(), "timed out after 100ms waiting for never");
        assert!(checks >= 2, "the condition was re-checked before giving up");
    }

    #[tokio::test]
    async fn sees_a_loopback_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        for_listener(address, Duration::from_secs(5))
            .await
            .expect("listener found");
    }
}
