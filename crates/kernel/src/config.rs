//! Configuration value types shared by every service.
//!
//! The binary assembles the layered configuration (defaults < TOML file < `PINIT_…` environment < flags);
//! this module only provides the value types, each of which explains what it accepts when it is given
//! something else, and redacts itself when printed.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration written the way people write them: `30s`, `5m`, `1h 30m`, `250ms` or ISO 8601 `PT30S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub std::time::Duration);

impl HumanDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let explain =
            || format!("`{s}` is not a duration; write e.g. `30s`, `5m`, `1h 30m` or `250ms`");
        let signed: jiff::SignedDuration = s.trim().parse().map_err(|_| explain())?;
        if signed.is_negative() {
            return Err(format!(
                "`{s}` is negative; a duration must be zero or more"
            ));
        }
        std::time::Duration::try_from(signed)
            .map(Self)
            .map_err(|_| explain())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::SignedDuration::try_from(self.0) {
            Ok(d) => write!(f, "{d:#}"),
            Err(_) => write!(f, "{}s", self.0.as_secs()),
        }
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `5m` or `1h 30m`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit; write e.g. `{v}s` or `{v}ms`"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit; write e.g. `{v}s` or `{v}ms`"
                )))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A secret value: usable by the program, never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "[redacted]" })
    }
}

/// A connection URL (database, broker) whose password is redacted when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(url::Url);

impl ConnectionUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        url::Url::parse(s)
            .map(Self)
            .map_err(|e| format!("`{}` is not a URL: {e}", Self::redact_str(s)))
    }
    pub fn from_url(url: url::Url) -> Self {
        Self(url)
    }
    /// The value of query parameter `key` (e.g. `sslmode`), decoded; the first if it repeats.
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
    /// The full URL, password included — for connecting, never for logging.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }
    pub fn url(&self) -> &url::Url {
        &self.0
    }
    /// The URL with any password replaced, safe for logs and `pinit config`.
    pub fn redacted(&self) -> String {
        let mut u = self.0.clone();
        if u.password().is_some() {
            let _ = u.set_password(Some("REDACTED"));
        }
        u.to_string()
    }
    fn redact_str(s: &str) -> String {
        // Best effort for unparsable input: hide anything between "://user:" and "@".
        match (s.find("://"), s.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &s[scheme_end + 3..at];
                match userinfo.find(':') {
                    Some(colon) => format!(
                        "{}{}:REDACTED{}",
                        &s[..scheme_end + 3],
                        &userinfo[..colon],
                        &s[at..]
                    ),
                    None => s.to_string(),
                }
            }
            _ => s.to_string(),
        }
    }
}

impl fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionUrl({})", self.redacted())
    }
}

impl fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for ConnectionUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ConnectionUrl::parse(&s).map_err(de::Error::custom)
    }
}

impl Serialize for ConnectionUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// A list given either as a TOML array or as one comma-separated string (the environment's way).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(String),
            Many(Vec<String>),
        }
        let items = match Either::deserialize(deserializer).map_err(|_| {
            de::Error::custom("expected a list of strings or one comma-separated string")
        })? {
            Either::One(s) => s.split(',').map(str::to_string).collect(),
            Either::Many(v) => v,
        };
        Ok(StringList(
            items
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured when writing to a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter: `info`, `debug`, or per target: `info,pinit_task=debug`.
    #[serde(default = "LogConfig::default_level")]
    pub level: String,
}

impl LogConfig {
    fn default_level() -> String {
        "info".into()
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: Self::default_level(),
        }
    }
}

/// Where to listen: a host (IP address) and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub host: IpAddr,
    pub port: u16,
}

impl Listen {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// Prometheus metrics endpoint.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` on its own port (never on the public one).
    pub enabled: bool,
    /// Unset: the same host as `http.host` (metrics are never more exposed than the service itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<IpAddr>,
    pub port: u16,
}

impl MetricsConfig {
    /// Where `/metrics` listens: `metrics.host`, else `http_host`.
    pub fn addr(&self, http_host: IpAddr) -> SocketAddr {
        SocketAddr::new(self.host.unwrap_or(http_host), self.port)
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// How long in-flight work may take to finish after SIGTERM/SIGINT before the process exits anyway.
    /// Keep it below Kubernetes' `terminationGracePeriodSeconds`.
    pub drain_timeout: HumanDuration,
    /// After SIGTERM, keep serving this long (not ready, `Connection: close`) before draining, so that whoever
    /// routes to this replica (the gateway probes `/readyz` every 250 ms, a load balancer its health check)
    /// stops first. The binary defaults to 2 s for the four services — safe without any preStop hook — and to
    /// none for `pinit serve` (one process: nobody routes around it). The Kubernetes manifests set 0 s: their
    /// preStop sleep does the same.
    pub lame_duck: HumanDuration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain_timeout: HumanDuration::from_secs(20),
            lame_duck: HumanDuration::from_secs(0),
        }
    }
}

/// Database pool settings (the URL itself belongs to each context).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabasePoolConfig {
    /// Maximum connections per database pool.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing with 503.
    pub acquire_timeout: HumanDuration,
    /// PostgreSQL TLS (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) for every context's database
    /// whose URL names no `sslmode` of its own; unset: the URL's, else libpq's default `prefer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<crate::tls::SslMode>,
}

impl Default for DatabasePoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: HumanDuration::from_secs(5),
            ssl_mode: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_human_and_iso_forms() {
        assert_eq!("30s".parse::<HumanDuration>().unwrap().get().as_secs(), 30);
        assert_eq!(
            "1h 30m".parse::<HumanDuration>().unwrap().get().as_secs(),
            5400
        );
        assert_eq!(
            "250ms".parse::<HumanDuration>().unwrap().get().as_millis(),
            250
        );
        assert_eq!(
            "PT5M".parse::<HumanDuration>().unwrap().get().as_secs(),
            300
        );
        let err = "soon".parse::<HumanDuration>().unwrap_err();
        assert!(err.contains("`soon` is not a duration"), "{err}");
        let err = "-5s".parse::<HumanDuration>().unwrap_err();
        assert!(err.contains("negative"), "{err}");
    }

    #[test]
    fn bare_numbers_are_refused_with_a_hint() {
        let err = serde_json::from_str::<HumanDuration>("30").unwrap_err();
        assert!(err.to_string().contains("`30` has no unit"), "{err}");
    }

    #[test]
    fn urls_hide_their_password() {
        let url = ConnectionUrl::parse("postgres://pinit:hunter2@db:5432/pinit_task").unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://pinit:REDACTED@db:5432/pinit_task"
        );
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(url.expose().contains("hunter2"));
        let err = ConnectionUrl::parse("postgres://u:hunter2@").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("top");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert!(!format!("{s:?}").contains("top"));
    }

    #[test]
    fn lists_accept_commas_or_arrays() {
        let a: StringList =
            serde_json::from_str("\"https://a.example, https://b.example\"").unwrap();
        assert_eq!(a.0, vec!["https://a.example", "https://b.example"]);
        let b: StringList = serde_json::from_str("[\"x\"]").unwrap();
        assert_eq!(b.0, vec!["x"]);
        let empty: StringList = serde_json::from_str("\"\"").unwrap();
        assert!(empty.0.is_empty());
    }
}
