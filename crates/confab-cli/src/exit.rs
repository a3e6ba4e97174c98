//! Process exit codes (`sysexits.h`), so scripts can react to the kind of failure.

use crate::server::ServerError;

/// Bad flags or configuration.
pub const USAGE: u8 = 64;
/// The requested service is not available in this build.
pub const UNAVAILABLE: u8 = 69;

pub fn code_for(error: &ServerError) -> u8 {
    match error {
        ServerError::Keys(_) | ServerError::NoKeys => USAGE,
        ServerError::SfuNotBuilt => UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_usage_errors_and_missing_features_unavailable() {
        assert_eq!(code_for(&ServerError::NoKeys), USAGE);
        assert_eq!(code_for(&ServerError::SfuNotBuilt), UNAVAILABLE);
    }
}
