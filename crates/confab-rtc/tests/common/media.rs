//! Reading synthetic frames back in tests (the frames come from `confab_rtc::synthetic`).

use confab_rtc::room::{Layer, RemoteTrack};
use confab_rtc::synthetic::video_counter;

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

/// Frames of `track` until they come from `layer` and the next 10 all do.
pub async fn layer_arrives(track: &mut RemoteTrack, layer: Layer) {
    let wanted = layer as u8;
    let read = async {
        let mut in_a_row = 0;
        while in_a_row < 10 {
            let frame = track.recv().await.expect("the track ended early");
            let (_, from) = video_counter(&frame.data).expect("one of our frames");
            if from == wanted {
                in_a_row += 1;
            } else {
                assert_eq!(
                    in_a_row, 0,
                    "a layer {from} frame after the switch to {wanted}"
                );
            }
        }
    };
    tokio::time::timeout(super::DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("layer {layer:?} did not arrive"));
}
