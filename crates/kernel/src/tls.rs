//! TLS for Pinit's own outbound connections: PostgreSQL, RabbitMQ (`amqps://`) and HTTPS to push services
//! and OpenID providers.
//!
//! Every connection trusts the system's certificate store (and the compiled-in Mozilla roots), plus the CA
//! certificates of `tls.ca_file` — a private CA of a managed database or broker, or a corporate CA. PostgreSQL
//! and RabbitMQ are shown the client certificate of `tls.client_cert`/`tls.client_key` when they ask for one.
//! rustls everywhere: no OpenSSL in the image. See docs/configuration.md (`[tls]`, `database.ssl_mode`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::ConnectionUrl;

/// `[tls]` — certificates for outbound connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file of CA certificates trusted in addition to the system store, by every outbound connection.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate (chain) presented to PostgreSQL and RabbitMQ when they request one.
    pub client_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, or PKCS#1/SEC1) of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// How a PostgreSQL connection uses TLS (libpq's `sslmode`). A URL's own `sslmode` wins over the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS if the server offers it, without checking its certificate (libpq's default).
    #[default]
    Prefer,
    /// TLS or fail; the certificate is not checked.
    Require,
    /// TLS; the certificate must chain to a trusted CA.
    VerifyCa,
    /// TLS; trusted CA and the certificate must name the host connected to. The production choice.
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against the trusted CAs.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SslMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not an sslmode; use one of disable, prefer, require, verify-ca, verify-full"
                )
            })
    }
}

impl<'de> Deserialize<'de> for SslMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for SslMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no PEM {what}")]
    NoPem {
        key: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("goes with {missing}, which is not set")]
    HalfIdentity {
        given: &'static str,
        missing: &'static str,
    },
}

impl TlsError {
    /// The setting at fault (`tls.ca_file`, …).
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::Read { key, .. } | TlsError::NoPem { key, .. } => key,
            TlsError::HalfIdentity { given, .. } => given,
        }
    }
}

/// The PEM contents of [`TlsSettings`], read and checked once at start-up.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsMaterial {
    /// Extra trusted CA certificates (PEM), if any.
    pub ca_pem: Option<String>,
    /// Client certificate chain and key (PEM), if any.
    pub identity: Option<(String, String)>,
    settings: TlsSettings,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_file", &self.settings.ca_file)
            .field("client_cert", &self.settings.client_cert)
            .finish_non_exhaustive()
    }
}

fn read_pem(key: &'static str, path: &Path, what: &'static str) -> Result<String, TlsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        key,
        path: path.to_path_buf(),
        source,
    })?;
    let marker = if what == "private key" {
        "PRIVATE KEY-----"
    } else {
        "-----BEGIN CERTIFICATE-----"
    };
    if !text.contains(marker) {
        return Err(TlsError::NoPem {
            key,
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(text)
}

impl TlsMaterial {
    /// Reads the files the settings name; a missing or empty file is an error naming the setting.
    pub fn load(settings: &TlsSettings) -> Result<Self, TlsError> {
        let ca_pem = match &settings.ca_file {
            Some(path) => Some(read_pem("tls.ca_file", path, "certificate")?),
            None => None,
        };
        let identity = match (&settings.client_cert, &settings.client_key) {
            (Some(cert), Some(key)) => Some((
                read_pem("tls.client_cert", cert, "certificate")?,
                read_pem("tls.client_key", key, "private key")?,
            )),
            (None, None) => None,
            (Some(_), None) => {
                return Err(TlsError::HalfIdentity {
                    given: "tls.client_cert",
                    missing: "tls.client_key",
                });
            }
            (None, Some(_)) => {
                return Err(TlsError::HalfIdentity {
                    given: "tls.client_key",
                    missing: "tls.client_cert",
                });
            }
        };
        Ok(Self {
            ca_pem,
            identity,
            settings: settings.clone(),
        })
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// What a certificate is checked against, for error messages: "the system store" or
    /// "the system store and /etc/pinit/ca.pem".
    pub fn trust_description(&self) -> String {
        match &self.settings.ca_file {
            Some(path) => format!("the system store and {}", path.display()),
            None => "the system store (set tls.ca_file for a private CA)".into(),
        }
    }
}

/// The extra CA certificates every outbound HTTPS client trusts, set once at start-up by [`trust_for_https`].
static HTTPS_EXTRA_ROOTS: std::sync::OnceLock<Vec<reqwest::Certificate>> =
    std::sync::OnceLock::new();

/// Makes every client of [`https_client`] trust `tls.ca_file` beside the system store (the binary calls this
/// once at start-up; later calls change nothing). An unreadable bundle is an error naming the setting.
pub fn trust_for_https(tls: &TlsMaterial) -> Result<(), TlsError> {
    let roots = match &tls.ca_pem {
        Some(pem) => {
            reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|_| TlsError::NoPem {
                key: "tls.ca_file",
                path: tls.settings.ca_file.clone().unwrap_or_default(),
                what: "certificate that parses",
            })?
        }
        None => Vec::new(),
    };
    let _ = HTTPS_EXTRA_ROOTS.set(roots);
    Ok(())
}

/// The start of every outbound HTTPS client (push services, FCM, OpenID providers): rustls trusting the
/// system store, the compiled-in Mozilla roots, and `tls.ca_file` once [`trust_for_https`] ran. Callers add
/// their timeouts, redirect policy and user agent.
pub fn https_client() -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder();
    for root in HTTPS_EXTRA_ROOTS.get().into_iter().flatten() {
        builder = builder.add_root_certificate(root.clone());
    }
    builder
}

/// A PostgreSQL URL with the TLS settings filled in where the URL does not say: `sslmode` from
/// `database.ssl_mode`, `sslrootcert` from `tls.ca_file`, `sslcert`/`sslkey` from the client identity.
/// Anything the URL already sets is kept (the URL is the more specific). Other schemes are returned as they are.
pub fn postgres_url(
    url: &ConnectionUrl,
    ssl_mode: Option<SslMode>,
    tls: &TlsSettings,
) -> ConnectionUrl {
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return url.clone();
    }
    let mut out = url.url().clone();
    let has = |key: &str| url.query_param(key).is_some();
    let mut add = Vec::new();
    if let Some(mode) = ssl_mode
        && !has("sslmode")
    {
        add.push(("sslmode", mode.as_str().to_string()));
    }
    for (key, path) in [
        ("sslrootcert", &tls.ca_file),
        ("sslcert", &tls.client_cert),
        ("sslkey", &tls.client_key),
    ] {
        if let Some(path) = path
            && !has(key)
        {
            add.push((key, path.to_string_lossy().into_owned()));
        }
    }
    if !add.is_empty() {
        let mut pairs = out.query_pairs_mut();
        for (k, v) in add {
            pairs.append_pair(k, &v);
        }
    }
    ConnectionUrl::from_url(out)
}

/// The `sslmode` a PostgreSQL URL asks for (libpq's default `prefer` when it names none).
pub fn url_ssl_mode(url: &ConnectionUrl) -> Result<SslMode, String> {
    match url.query_param("sslmode") {
        Some(mode) => mode.parse(),
        None => Ok(SslMode::Prefer),
    }
}

/// Whether an error (or any error it wraps) is a TLS certificate that did not verify — a configuration
/// problem no retry will fix.
pub fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if text.contains("invalid peer certificate")
            || text.contains("UnknownIssuer")
            || text.contains("NotValidForName")
            || text.contains("not valid for name")
            || text.contains("certificate verify failed")
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> ConnectionUrl {
        ConnectionUrl::parse(s).unwrap()
    }

    #[test]
    fn settings_fill_in_what_the_url_does_not_say() {
        let tls = TlsSettings {
            ca_file: Some("/etc/pinit/ca.pem".into()),
            client_cert: Some("/etc/pinit/client.pem".into()),
            client_key: Some("/etc/pinit/client.key".into()),
        };
        let out = postgres_url(
            &url("postgres://pinit@db:5432/pinit_task"),
            Some(SslMode::VerifyFull),
            &tls,
        );
        assert_eq!(
            out.expose(),
            "postgres://pinit@db:5432/pinit_task?sslmode=verify-full&sslrootcert=%2Fetc%2Fpinit%2Fca.pem\
             &sslcert=%2Fetc%2Fpinit%2Fclient.pem&sslkey=%2Fetc%2Fpinit%2Fclient.key"
        );
        assert_eq!(url_ssl_mode(&out).unwrap(), SslMode::VerifyFull);
    }

    #[test]
    fn the_url_wins_over_the_settings() {
        let tls = TlsSettings {
            ca_file: Some("/etc/pinit/ca.pem".into()),
            ..Default::default()
        };
        let out = postgres_url(
            &url("postgres://db/x?sslmode=disable&sslrootcert=/own.pem"),
            Some(SslMode::VerifyFull),
            &tls,
        );
        assert_eq!(
            out.expose(),
            "postgres://db/x?sslmode=disable&sslrootcert=/own.pem"
        );
        assert_eq!(url_ssl_mode(&out).unwrap(), SslMode::Disable);
    }

    #[test]
    fn sqlite_and_unset_settings_leave_the_url_alone() {
        let sqlite = url("sqlite:///tmp/x.db?mode=rwc");
        assert_eq!(
            postgres_url(&sqlite, Some(SslMode::VerifyFull), &TlsSettings::default()),
            sqlite
        );
        let pg = url("postgres://db/x");
        assert_eq!(postgres_url(&pg, None, &TlsSettings::default()), pg);
        assert_eq!(url_ssl_mode(&pg).unwrap(), SslMode::Prefer);
    }

    #[test]
    fn ssl_modes_parse_like_libpq_and_explain_mistakes() {
        for mode in SslMode::ALL {
            assert_eq!(mode.as_str().parse::<SslMode>().unwrap(), mode);
        }
        assert_eq!(
            "VERIFY-FULL".parse::<SslMode>().unwrap(),
            SslMode::VerifyFull
        );
        let err = "verify".parse::<SslMode>().unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn material_is_checked_and_split() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(&ca, format!("# two CAs\n{block}{block}")).unwrap();
        let loaded = TlsMaterial::load(&TlsSettings {
            ca_file: Some(ca.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            loaded.ca_pem.as_deref(),
            Some(format!("# two CAs\n{block}{block}").as_str())
        );
        assert!(loaded.trust_description().contains("ca.pem"));

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = TlsMaterial::load(&TlsSettings {
            ca_file: Some(empty),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        let err = TlsMaterial::load(&TlsSettings {
            client_cert: Some(ca),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.key(), "tls.client_cert");
        assert!(
            err.to_string().contains("goes with tls.client_key"),
            "{err}"
        );
        let err = TlsMaterial::load(&TlsSettings {
            ca_file: Some(dir.path().join("missing.pem")),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cannot read") && err.contains("missing.pem"),
            "{err}"
        );
    }
}
