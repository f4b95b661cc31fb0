//! HTTPS for the fakes: one test CA per test process (rcgen), a server certificate for 127.0.0.1
//! signed by it, and `SSL_CERT_FILE` pointing at the CA so the real azure_core/azure_identity HTTP
//! client (reqwest + rustls-platform-verifier, which reads the native roots through
//! rustls-native-certs) trusts it. Real Azure clients refuse to send bearer tokens over plain http,
//! so the fakes must speak TLS like the real endpoints do.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

struct TestCa {
    server: Arc<ServerConfig>,
    _ca_file: tempfile::NamedTempFile,
}

fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pulumi-cloud-import test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("leaf params");
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");

        let ca_file = tempfile::NamedTempFile::new().expect("ca file");
        std::fs::write(ca_file.path(), ca_cert.pem()).expect("write ca");
        // Read by rustls-native-certs whenever an HTTP client is built; every test of this
        // process sets the same value before building one.
        std::env::set_var("SSL_CERT_FILE", ca_file.path());

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("server config");
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        TestCa {
            server: Arc::new(server),
            _ca_file: ca_file,
        }
    })
}

/// Makes sure the test CA exists and is trusted (call before building any client).
pub fn trust_test_ca() {
    test_ca();
}

/// The test CA as PEM (what a kubeconfig's `certificate-authority-data` holds, base64-encoded).
pub fn ca_pem() -> String {
    std::fs::read_to_string(ca_file()).expect("the test CA file")
}

/// The PEM file of the test CA, for `SSL_CERT_FILE` in a child process.
pub fn ca_file() -> std::path::PathBuf {
    test_ca()._ca_file.path().to_path_buf()
}

/// Serves `app` over HTTPS on 127.0.0.1 (port 0); returns `https://127.0.0.1:<port>`.
pub async fn serve_https(app: Router) -> String {
    let acceptor = TlsAcceptor::from(test_ca().server.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
        }
    });
    format!("https://{addr}")
}
