//! Process exit codes (`sysexits.h`), so scripts can react to the kind of failure.

use confab_media::screen::ScreenError;
use confab_rtc::room::{DisconnectReason, RoomError};
use confab_rtc::signal::SignalError;
use confab_sfu::SfuError;
use livekit_protocol::DisconnectReason as ServerReason;

use crate::audio::AudioError;
use crate::discover::DiscoverError;
use crate::join::JoinError;
use crate::local_audio::LocalAudioError;
use crate::media::MediaError;
use crate::server::ServerError;

/// `confab join`: a host removed us.
pub const REMOVED: u8 = 3;
/// `confab join`: the meeting ended for everyone.
pub const MEETING_ENDED: u8 = 4;
/// `confab join`: the same identity joined elsewhere.
pub const REPLACED: u8 = 5;
/// A received file was corrupt (hash mismatch, truncated).
pub const DATA_ERROR: u8 = 65;
/// A file to send does not exist or cannot be read.
pub const NO_INPUT: u8 = 66;
/// Writing a received file failed.
pub const IO_ERROR: u8 = 74;
/// The connection dropped during the meeting.
pub const TEMPORARY_FAILURE: u8 = 75;
/// The server refused the token, or the token does not allow what was asked.
pub const NO_PERMISSION: u8 = 77;
/// The server's TLS certificate is not trusted here (or this system trusts no roots).
pub const CONFIG: u8 = 78;

/// Bad flags or configuration.
pub const USAGE: u8 = 64;
/// A needed resource is unavailable (e.g. the port is taken).
pub const UNAVAILABLE: u8 = 69;
/// The server failed while running.
pub const SOFTWARE: u8 = 70;

pub fn code_for(error: &ServerError) -> u8 {
    match error {
        ServerError::Keys(_) | ServerError::NoKeys | ServerError::NoLiveKitKey => USAGE,
        ServerError::Sfu(SfuError::Bind { .. } | SfuError::Media(_))
        | ServerError::Conference(_) => UNAVAILABLE,
        ServerError::Runtime(_) | ServerError::Signal(_) | ServerError::Sfu(_) => SOFTWARE,
    }
}

pub fn code_for_discover(error: &DiscoverError) -> u8 {
    match error {
        DiscoverError::Code(_) => USAGE,
        DiscoverError::NotFound | DiscoverError::Discovery(_) => UNAVAILABLE,
        DiscoverError::Runtime(_) => SOFTWARE,
    }
}

pub fn code_for_audio(error: &AudioError) -> u8 {
    match error {
        AudioError::Read { .. } => NO_INPUT,
        AudioError::Format { .. } => DATA_ERROR,
        AudioError::Write { .. } | AudioError::Rename { .. } => IO_ERROR,
        AudioError::Processing(_) | AudioError::Opus(_) => SOFTWARE,
    }
}

pub fn code_for_join(error: &JoinError) -> u8 {
    match error {
        JoinError::NoToken | JoinError::TokenSigning(_) | JoinError::RpcCall(_) => USAGE,
        JoinError::SendFile { .. } => NO_INPUT,
        JoinError::SaveDir { .. } => IO_ERROR,
        JoinError::Runtime(_) => SOFTWARE,
        JoinError::ReceivedFile(confab_rtc::room::FileError::Io(_)) => IO_ERROR,
        JoinError::ReceivedFile(_) => DATA_ERROR,
        JoinError::Ended(reason) => code_for_reason(reason),
        JoinError::Room(error) | JoinError::Media(MediaError::Room(error)) => code_for_room(error),
        // A codec or media thread failed: a bug or a broken library, not the user's doing.
        JoinError::Media(MediaError::Pipeline(_)) => SOFTWARE,
        JoinError::Media(MediaError::Screen(ScreenError::NotFound(_))) => USAGE,
        JoinError::Media(MediaError::Screen(_)) => UNAVAILABLE,
        JoinError::LocalAudio(LocalAudioError::Device(_)) => UNAVAILABLE,
        JoinError::LocalAudio(LocalAudioError::Room(error)) => code_for_room(error),
        JoinError::LocalAudio(_) => SOFTWARE,
    }
}

fn code_for_room(error: &RoomError) -> u8 {
    match error {
        RoomError::Signal(SignalError::Refused { status, .. })
            if *status == 401 || *status == 403 =>
        {
            NO_PERMISSION
        }
        RoomError::Signal(SignalError::BadUrl(_) | SignalError::BadToken) => USAGE,
        RoomError::Signal(SignalError::UntrustedCertificate(_) | SignalError::Tls(_)) => CONFIG,
        RoomError::Signal(
            SignalError::LeftBeforeJoin { .. } | SignalError::RejoinRequired { .. },
        )
        | RoomError::NotAllowed(_) => NO_PERMISSION,
        RoomError::Disconnected(reason) => code_for_reason(reason),
        RoomError::Signal(_) | RoomError::ConnectTimeout(_) | RoomError::Io(_) => UNAVAILABLE,
        _ => SOFTWARE,
    }
}

fn code_for_reason(reason: &DisconnectReason) -> u8 {
    match reason {
        DisconnectReason::ClientInitiated => 0,
        DisconnectReason::Server(ServerReason::ParticipantRemoved) => REMOVED,
        DisconnectReason::Server(ServerReason::RoomDeleted | ServerReason::RoomClosed) => {
            MEETING_ENDED
        }
        DisconnectReason::Server(ServerReason::DuplicateIdentity) => REPLACED,
        DisconnectReason::Server(_) | DisconnectReason::ConnectionLost(_) => TEMPORARY_FAILURE,
        DisconnectReason::Refused(_) => NO_PERMISSION,
        DisconnectReason::ProtocolError(_) => SOFTWARE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_usage_errors_and_a_taken_port_is_unavailable() {
        assert_eq!(code_for(&ServerError::NoKeys), USAGE);
        let taken = ServerError::Sfu(SfuError::Bind {
            address: "127.0.0.1:7880".parse().expect("address"),
            source: std::io::ErrorKind::AddrInUse.into(),
        });
        assert_eq!(code_for(&taken), UNAVAILABLE);
    }

    #[test]
    fn join_outcomes_have_distinct_codes() {
        let refused = JoinError::Room(RoomError::Signal(SignalError::Refused {
            status: 401,
            reason: "bad token".into(),
        }));
        assert_eq!(code_for_join(&refused), NO_PERMISSION);
        let removed = JoinError::Ended(DisconnectReason::Server(ServerReason::ParticipantRemoved));
        assert_eq!(code_for_join(&removed), REMOVED);
        let ended = JoinError::Ended(DisconnectReason::Server(ServerReason::RoomDeleted));
        assert_eq!(code_for_join(&ended), MEETING_ENDED);
        let lost = JoinError::Ended(DisconnectReason::ConnectionLost("gone".into()));
        assert_eq!(code_for_join(&lost), TEMPORARY_FAILURE);
        assert_eq!(code_for_join(&JoinError::NoToken), USAGE);
    }
}
