//! `confab server`: validates its configuration, then hosts meetings.

use confab_sfu::{ApiKeys, ApiKeysError};

use crate::cli::ServerArgs;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid --keys: {0}")]
    Keys(#[from] ApiKeysError),
    #[error("pass --dev for local testing, or --keys \"key: secret\" (or CONFAB_KEYS)")]
    NoKeys,
    #[error(
        "the embedded SFU is not part of this build yet, so `confab server` cannot host meetings; \
         the configuration above was checked and is valid"
    )]
    SfuNotBuilt,
}

/// The API keys this server would accept, from `--dev` or `--keys`.
pub fn api_keys(args: &ServerArgs) -> Result<ApiKeys, ServerError> {
    match (&args.keys, args.dev) {
        (Some(text), _) => Ok(ApiKeys::parse(text)?),
        (None, true) => Ok(ApiKeys::dev()),
        (None, false) => Err(ServerError::NoKeys),
    }
}

pub fn run(args: &ServerArgs) -> Result<(), ServerError> {
    let keys = api_keys(args)?;
    let listen = args
        .bind
        .map_or_else(|| "all interfaces".to_owned(), |ip| ip.to_string());
    println!(
        "confab server: port {} (signal, Twirp, API), UDP {} (media), listening on {listen}, keys {:?}",
        args.port,
        args.udp_port,
        keys.keys().collect::<Vec<_>>()
    );
    // Placeholder until the SFU issue lands: say so plainly instead of pretending to serve.
    Err(ServerError::SfuNotBuilt)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn server_args(extra: &[&str]) -> ServerArgs {
        let argv = ["confab", "server"].iter().chain(extra).copied();
        let Command::Server(args) = Cli::try_parse_from(argv).expect("valid").command;
        args
    }

    #[test]
    fn dev_mode_uses_the_dev_key() {
        let keys = api_keys(&server_args(&["--dev"])).expect("dev keys");
        assert_eq!(keys.secret("devkey"), Some("secret"));
    }

    #[test]
    fn explicit_keys_win_and_are_validated() {
        let strong = "k: 0123456789abcdef0123456789abcdef";
        let keys = api_keys(&server_args(&["--dev", "--keys", strong])).expect("keys");
        assert_eq!(keys.secret("devkey"), None);
        assert!(keys.secret("k").is_some());
        assert!(matches!(
            api_keys(&server_args(&["--keys", "k: weak"])),
            Err(ServerError::Keys(ApiKeysError::SecretTooShort { .. }))
        ));
    }

    #[test]
    fn refuses_to_start_without_keys() {
        assert!(matches!(
            api_keys(&server_args(&[])),
            Err(ServerError::NoKeys)
        ));
    }

    #[test]
    fn says_plainly_that_the_sfu_is_not_built_yet() {
        let error = run(&server_args(&["--dev"])).expect_err("placeholder");
        assert!(matches!(error, ServerError::SfuNotBuilt));
        assert!(error.to_string().contains("not part of this build yet"));
    }
}
