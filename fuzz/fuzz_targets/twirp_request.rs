//! Arbitrary bytes as the body of every RoomService request, in both Twirp encodings: decoding
//! must fail with an error, never panic.
#![no_main]

use confab_sfu::twirp::{Encoding, decode};
use libfuzzer_sys::fuzz_target;
use livekit_protocol as proto;

fn all_requests(encoding: Encoding, body: &[u8]) {
    let _ = decode::<proto::CreateRoomRequest>(encoding, body);
    let _ = decode::<proto::ListRoomsRequest>(encoding, body);
    let _ = decode::<proto::DeleteRoomRequest>(encoding, body);
    let _ = decode::<proto::ListParticipantsRequest>(encoding, body);
    let _ = decode::<proto::RoomParticipantIdentity>(encoding, body);
    let _ = decode::<proto::MuteRoomTrackRequest>(encoding, body);
    let _ = decode::<proto::UpdateParticipantRequest>(encoding, body);
    let _ = decode::<proto::UpdateRoomMetadataRequest>(encoding, body);
    let _ = decode::<proto::SendDataRequest>(encoding, body);
}

fuzz_target!(|body: &[u8]| {
    all_requests(Encoding::Protobuf, body);
    all_requests(Encoding::Json, body);
});
