//! Process exit codes (`sysexits.h`), so scripts can react to the kind of failure.

use confab_sfu::SfuError;

use crate::server::ServerError;

/// Bad flags or configuration.
pub const USAGE: u8 = 64;
/// A needed resource is unavailable (e.g. the port is taken).
pub const UNAVAILABLE: u8 = 69;
/// The server failed while running.
pub const SOFTWARE: u8 = 70;

pub fn code_for(error: &ServerError) -> u8 {
    match error {
        ServerError::Keys(_) | ServerError::NoKeys => USAGE,
        ServerError::Sfu(SfuError::Bind { .. } | SfuError::Media(_)) => UNAVAILABLE,
        ServerError::Runtime(_) | ServerError::Signal(_) | ServerError::Sfu(_) => SOFTWARE,
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
}
