//! Reading synthetic frames back in tests (the frames come from `confab_rtc::synthetic`).

use confab_rtc::room::RemoteTrack;

/// Reads `count` of our frames from `track` (within the deadline) and checks their counters
/// only ever increase; returns the counters.
pub async fn counters_advance(
    track: &mut RemoteTrack,
    count: usize,
    counter_of: impl Fn(&[u8]) -> Option<u32>,
) -> Vec<u32> {
    let mut counters = Vec::new();
    let read = async {
        while counters.len() < count {
            let frame = track.recv().await.expect("the track ended early");
            let counter = counter_of(&frame.data)
                .unwrap_or_else(|| panic!("not one of our frames: {} bytes", frame.data.len()));
            counters.push(counter);
        }
    };
    tokio::time::timeout(super::DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("only {} frames arrived in time", counters.len()));
    assert!(
        counters.windows(2).all(|pair| pair[0] < pair[1]),
        "counters went backwards or repeated: {counters:?}"
    );
    counters
}
