//! Arbitrary bytes on a data channel: the server's admission and stamping of data packets must
//! reject or forward them, never panic.
#![no_main]

use confab_sfu::data::{Lane, Sender, admit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else {
        return;
    };
    let sender = Sender {
        sid: "PA_fuzz",
        identity: "fuzz",
        hidden: selector & 2 != 0,
        can_publish_data: selector & 4 != 0,
    };
    let lane = if selector & 1 == 0 {
        Lane::Reliable
    } else {
        Lane::Lossy
    };
    let mut last_sequence = u32::from(selector) * 3;
    let _ = admit(bytes, &sender, lane, &mut last_sequence);
});
