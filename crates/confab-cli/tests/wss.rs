//! `confab join wss://…`: signalling over TLS with the roots the system trusts. The system's
//! store is replaced at the OS boundary (`SSL_CERT_FILE`, read by rustls-native-certs) by a
//! certificate authority made here, which signed the certificate of a TLS-terminating proxy
//! in front of the embedded SFU. A certificate the system does not trust, or one issued for
//! another name, ends the join with a clear reason and exit code 78.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use confab_rtc::room::{Room, RoomEvent, RoomOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const KEY: &str = "APItls";
const SECRET: &str = "tls-secret-tls-secret-tls-secret";
const DEADLINE: Duration = Duration::from_secs(30);
/// `confab join`'s exit code for an untrusted certificate (`EX_CONFIG`).
const EXIT_CONFIG: i32 = 78;

/// A certificate authority and the `localhost` certificate it signed.
struct Authority {
    pem: String,
    leaf: CertificateDer<'static>,
    leaf_key: PrivatePkcs8KeyDer<'static>,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    Authority {
        pem: ca.pem(),
        leaf: leaf.der().clone(),
        leaf_key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
    }
}

/// Terminates TLS with `authority`'s certificate and forwards the plain bytes to `upstream`.
async fn start_tls_proxy(authority: &Authority, upstream: SocketAddr) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![authority.leaf.clone()],
            PrivateKeyDer::Pkcs8(authority.leaf_key.clone_key()),
        )
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses our certificate ends its handshake here.
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    address
}

fn trusted_roots_file(authority: &Authority, label: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("confab-wss-{label}-{}.pem", std::process::id()));
    std::fs::write(&path, &authority.pem).expect("write roots");
    path
}

async fn confab_join(url: &str, roots: &PathBuf, flags: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["join", url, "--api-key", KEY, "--api-secret", SECRET])
        .args(["--room", "tls", "--identity", "ada"])
        .args(flags)
        .env("SSL_CERT_FILE", roots)
        .env_remove("SSL_CERT_DIR")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("confab join ends")
        .expect("confab join runs")
}

fn token(identity: &str) -> String {
    livekit_api::access_token::AccessToken::with_api_key(KEY, SECRET)
        .with_identity(identity)
        .with_grants(livekit_api::access_token::VideoGrants {
            room_join: true,
            room: "tls".into(),
            ..Default::default()
        })
        .to_jwt()
        .expect("token")
}

#[tokio::test]
async fn joins_over_wss_with_trusted_roots_and_refuses_an_untrusted_certificate() {
    let sfu = confab_sfu::start(confab_sfu::SfuConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        confab_sfu::ApiKeys::parse(&format!("{KEY}: {SECRET}")).expect("keys"),
    ))
    .await
    .expect("sfu");
    let ours = authority("Confab test CA");
    let proxy = start_tls_proxy(&ours, sfu.local_addr()).await;
    let trusted = trusted_roots_file(&ours, "trusted");
    let stranger = trusted_roots_file(&authority("Someone else's CA"), "stranger");

    // Bob joins over plain ws:// and waits for ada's chat, which comes through the proxy.
    let (_bob, mut bob_events) = Room::connect(
        &format!("ws://{}", sfu.local_addr()),
        &token("bob"),
        RoomOptions::default(),
    )
    .await
    .expect("bob joins");
    let url = format!("wss://localhost:{}", proxy.port());
    let ada = confab_join(
        &url,
        &trusted,
        &["--wait-for", "bob", "--chat", "over tls", "--duration", "2"],
    );
    let chat = async {
        loop {
            match bob_events.recv().await.expect("bob's events") {
                RoomEvent::Chat(chat) => break chat,
                RoomEvent::Disconnected(reason) => panic!("bob left: {reason:?}"),
                _ => {}
            }
        }
    };
    let (output, chat) = tokio::join!(ada, tokio::time::timeout(DEADLINE, chat));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("joined room=tls identity=ada"), "{stdout}");
    let chat = chat.expect("ada's chat reaches bob");
    assert_eq!(
        (chat.from.as_deref(), chat.message.as_str()),
        (Some("ada"), "over tls")
    );

    // The system does not trust the proxy's authority.
    let refused = confab_join(&url, &stranger, &["--duration", "1"]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(EXIT_CONFIG), "{stderr}");
    assert!(
        stderr.contains("certificate is not trusted: it is not signed by an authority"),
        "{stderr}"
    );

    // Trusted, but issued for `localhost`, not `127.0.0.1`.
    let wrong_name = format!("wss://127.0.0.1:{}", proxy.port());
    let refused = confab_join(&wrong_name, &trusted, &["--duration", "1"]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(EXIT_CONFIG), "{stderr}");
    assert!(stderr.contains("issued for another host name"), "{stderr}");

    for path in [trusted, stranger] {
        let _ = std::fs::remove_file(path);
    }
}
