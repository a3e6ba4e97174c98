//! TLS for `wss://` servers (LiveKit Cloud, a self-hosted cluster behind a certificate):
//! rustls with the aws-lc-rs provider and the roots the operating system trusts, loaded once
//! per process. `SSL_CERT_FILE` / `SSL_CERT_DIR` replace the system's roots, as they do for
//! OpenSSL-based programs.

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;

use super::SignalError;

/// The client configuration for every `wss://` connection, or why there is none.
pub fn client_config() -> Result<Arc<ClientConfig>, SignalError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| build().map(Arc::new))
        .clone()
        .map_err(SignalError::Tls)
}

fn build() -> Result<ClientConfig, String> {
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::debug!(%error, "a trusted root could not be loaded");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
    if ignored > 0 {
        tracing::debug!(ignored, "unparsable trusted roots ignored");
    }
    if added == 0 {
        return Err(
            "this system trusts no root certificates (install ca-certificates, or name a PEM \
             file in SSL_CERT_FILE)"
                .into(),
        );
    }
    tracing::debug!(roots = added, "trusted roots loaded");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|error| error.to_string())
}

/// The certificate problem inside a failed TLS handshake, if that is what failed.
pub fn certificate_error(error: &std::io::Error) -> Option<String> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(problem) => Some(describe(problem)),
        _ => None,
    }
}

fn describe(problem: &rustls::CertificateError) -> String {
    use rustls::CertificateError::*;
    match problem {
        UnknownIssuer => "it is not signed by an authority this system trusts".into(),
        Expired | ExpiredContext { .. } => "it has expired".into(),
        NotValidYet | NotValidYetContext { .. } => "it is not valid yet".into(),
        NotValidForName | NotValidForNameContext { .. } => {
            "it was issued for another host name".into()
        }
        Revoked => "it has been revoked".into(),
        other => format!("{other:?}"),
    }
}
