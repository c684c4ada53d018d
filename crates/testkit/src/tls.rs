//! TLS endpoints for tests: a throw-away certificate authority and TLS-terminating proxies in front of the
//! machine's PostgreSQL and RabbitMQ, so that `sslmode=verify-full` and `amqps://` are exercised for real
//! (rustls on both ends, a real handshake, real certificate checks) without reconfiguring the servers.
//!
//! * [`TestCa::new`] — a CA; [`TestCa::issue`] a server or client certificate for some names.
//! * [`TlsProxy::postgres`] — answers PostgreSQL's `SSLRequest` with `S`, completes the handshake, and
//!   passes the decrypted stream to the plain server. A client that does not ask for TLS is passed through
//!   as it is (what a server with `ssl = on` and a `host` rule does), so `sslmode=disable` still connects.
//! * [`TlsProxy::amqps`] — TLS from the first byte (`amqps://`), then the plain broker.
//!
//! [`TlsProxy::require_client_certificate`] turns on mutual TLS (the client must show a certificate of the CA).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

/// A certificate authority that lives for one test; its files are written to a temporary directory.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    dir: tempfile::TempDir,
}

/// A certificate and its key, as PEM, and where they were written.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TestCa {
    /// A new CA named `name` (its subject's common name).
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        let dir = tempfile::Builder::new()
            .prefix("pinit-test-ca-")
            .tempdir()
            .expect("a directory for the test CA");
        let pem = cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &pem).expect("write ca.pem");
        TestCa {
            issuer: Issuer::new(params, key),
            pem,
            dir,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate's file (what `tls.ca_file` points at).
    pub fn file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by this CA, written as `<stem>.pem` and
    /// `<stem>.key` next to the CA file.
    pub fn issue(&self, stem: &str, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params.distinguished_name.push(DnType::CommonName, stem);
        let key = KeyPair::generate().expect("certificate key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_file: self.dir.path().join(format!("{stem}.pem")),
            key_file: self.dir.path().join(format!("{stem}.key")),
        };
        std::fs::write(&issued.cert_file, &issued.cert_pem).expect("write certificate");
        std::fs::write(&issued.key_file, &issued.key_pem).expect("write key");
        issued
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// How the proxy starts a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// PostgreSQL: an 8-byte `SSLRequest` (or `GSSENCRequest`) first, TLS after our `S`.
    Postgres,
    /// TLS from the first byte.
    Direct,
}

/// A TLS-terminating proxy on a random loopback port; it stops when dropped.
pub struct TlsProxy {
    pub addr: SocketAddr,
    stop: tokio_util::sync::CancellationToken,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Completed TLS handshakes.
    tls: std::sync::atomic::AtomicUsize,
    /// Connections passed through without TLS (PostgreSQL clients that did not ask for it).
    plain: std::sync::atomic::AtomicUsize,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What the proxy presents and asks for.
pub struct ProxyTls {
    server: Issued,
    client_ca: Option<String>,
}

impl ProxyTls {
    /// Presents `server` (a certificate from [`TestCa::issue`]).
    pub fn presenting(server: Issued) -> Self {
        Self {
            server,
            client_ca: None,
        }
    }

    /// Also requires a client certificate issued by `ca`.
    pub fn require_client_certificate(mut self, ca: &TestCa) -> Self {
        self.client_ca = Some(ca.pem().to_string());
        self
    }

    fn acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<pki_types::CertificateDer<'static>> =
            pki_types::pem::PemObject::pem_slice_iter(self.server.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("server certificate PEM");
        let key = <pki_types::PrivateKeyDer<'static> as pki_types::pem::PemObject>::from_pem_slice(
            self.server.key_pem.as_bytes(),
        )
        .expect("server key PEM");
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let config = match &self.client_ca {
            None => builder
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server config"),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in pki_types::pem::PemObject::pem_slice_iter(ca.as_bytes()) {
                    roots.add(cert.expect("CA PEM")).expect("add the CA");
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client verifier");
                builder
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(certs, key)
                    .expect("server config")
            }
        };
        TlsAcceptor::from(Arc::new(config))
    }
}

impl TlsProxy {
    /// How many connections completed a TLS handshake.
    pub fn tls_sessions(&self) -> usize {
        self.counts.tls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many connections went through in plain text.
    pub fn plain_sessions(&self) -> usize {
        self.counts.plain.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// TLS in front of the PostgreSQL at `upstream` (host:port), the way PostgreSQL itself offers it.
    pub async fn postgres(upstream: SocketAddr, tls: ProxyTls) -> TlsProxy {
        Self::start(upstream, tls, Protocol::Postgres).await
    }

    /// HTTPS in front of the plain HTTP server at `upstream`.
    pub async fn https(upstream: SocketAddr, tls: ProxyTls) -> TlsProxy {
        Self::start(upstream, tls, Protocol::Direct).await
    }

    /// `amqps://` in front of the RabbitMQ at `upstream`.
    pub async fn amqps(upstream: SocketAddr, tls: ProxyTls) -> TlsProxy {
        Self::start(upstream, tls, Protocol::Direct).await
    }

    async fn start(upstream: SocketAddr, tls: ProxyTls, protocol: Protocol) -> TlsProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the TLS proxy");
        let addr = listener.local_addr().expect("proxy address");
        let stop = tokio_util::sync::CancellationToken::new();
        let acceptor = tls.acceptor();
        let stopped = stop.clone();
        let counts = Arc::new(Counts::default());
        let counting = counts.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stopped.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let stopped = stopped.clone();
                let counts = counting.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stopped.cancelled() => {}
                        _ = relay(client, upstream, acceptor, protocol, &counts) => {}
                    }
                });
            }
        });
        TlsProxy { addr, stop, counts }
    }
}

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    acceptor: TlsAcceptor,
    protocol: Protocol,
    counts: &Counts,
) -> std::io::Result<()> {
    if protocol == Protocol::Postgres {
        loop {
            let mut first = [0u8; 8];
            client.read_exact(&mut first).await?;
            let len = u32::from_be_bytes([first[0], first[1], first[2], first[3]]);
            let code = u32::from_be_bytes([first[4], first[5], first[6], first[7]]);
            match (len, code) {
                (8, GSSENC_REQUEST) => client.write_all(b"N").await?,
                (8, SSL_REQUEST) => {
                    client.write_all(b"S").await?;
                    break;
                }
                _ => {
                    // No TLS asked for: pass the startup message through unchanged.
                    counts
                        .plain
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let mut server = TcpStream::connect(upstream).await?;
                    server.write_all(&first).await?;
                    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                    return Ok(());
                }
            }
        }
    }
    let mut tls = acceptor.accept(client).await?;
    counts
        .tls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut server = TcpStream::connect(upstream).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut server).await?;
    Ok(())
}

/// The `host:port` of a URL, resolved (for the proxies' upstreams).
pub fn socket_addr_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).expect("a URL");
    let host = url.host_str().expect("a host");
    let port = url.port_or_known_default().unwrap_or(match url.scheme() {
        "postgres" | "postgresql" => 5432,
        _ => 5672,
    });
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .expect("resolve")
        .next()
        .expect("an address")
}
