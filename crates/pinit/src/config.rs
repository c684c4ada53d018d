//! The effective configuration: defaults < TOML file < `PINIT_…` environment < command-line flags.
//!
//! Environment variables map onto keys as `PINIT_<SECTION>_<KEY>`: `PINIT_LOG_FORMAT` → `log.format`,
//! `PINIT_TASK_DATABASE_URL` → `task.database_url`, `PINIT_CORS_ORIGINS` → `cors.origins`; deeper keys use
//! `__` (`PINIT_AUTH_OAUTH__NAVER__CLIENT_ID` → `auth.oauth.naver.client_id`). Top-level keys map directly
//! (`PINIT_DATA_DIR` → `data_dir`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use pinit_kernel::config::{
    ConnectionUrl, DatabasePoolConfig, HumanDuration, Listen, LogConfig, MetricsConfig, Secret,
    ShutdownConfig, StringList,
};
use pinit_kernel::identity::IdentityKey;
use serde::{Deserialize, Serialize};

/// Which program the configuration is for; defaults differ (`serve` listens on loopback only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Serve,
    Auth,
    Task,
    Notification,
    Gateway,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Serve => "serve",
            Mode::Auth => "auth",
            Mode::Task => "task",
            Mode::Notification => "notification",
            Mode::Gateway => "gateway",
        }
    }

    fn distributed(self) -> bool {
        self != Mode::Serve
    }

    /// The default `http.port` and `metrics.port`: each service its own, so the four start side by side on one
    /// host with no port setting (task's gRPC is `task.grpc_port`, 9090). `serve` and the gateway, the public
    /// face, share 8080. Listed in docs/configuration.md and docs/run-distributed.md.
    pub fn default_ports(self) -> (u16, u16) {
        match self {
            Mode::Serve | Mode::Gateway => (8080, 9095),
            Mode::Auth => (8081, 9096),
            Mode::Task => (8082, 9097),
            Mode::Notification => (8083, 9098),
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Directory of `jwt-private.pem`, `jwt-public.pem` and `vapid-private.pem`. Default `<data_dir>/keys`.
    pub dir: Option<PathBuf>,
}

/// `[amqp]` — the RabbitMQ broker of the distributed mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:5672/vhost` (vhost URL-encoded: `%2f` is `/`).
    pub url: ConnectionUrl,
}

/// `[internal]` — what the services of the distributed mode share among themselves.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InternalConfig {
    /// The key the gateway signs its identity assertions with and the services check them with: 32 random bytes,
    /// base64 (`head -c 32 /dev/urandom | base64`). Required by the four services, the same in all of them;
    /// `pinit serve` makes its own in memory when unset. See docs/adr/0012-gateway-to-service-identity.md.
    pub identity_key: Option<Secret>,
    /// During a rotation of `identity_key`: the other key, accepted beside it but never signed with. Step 1: every
    /// process gets the new key here; step 2: the new key becomes `identity_key` and the old one moves here;
    /// step 3: it is removed (docs/deploy.md). No request is refused at any step.
    pub previous_identity_key: Option<Secret>,
}

/// `[cors]` — browsers' cross-origin access through the gateway.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins, comma-separated in the environment (`PINIT_CORS_ORIGINS`).
    pub origins: StringList,
}

/// Everything Pinit can be told.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `pinit serve`'s data: SQLite databases and generated keys. Created on first run.
    pub data_dir: PathBuf,
    /// The public listener of this process: the gateway in `pinit serve`, the service otherwise.
    pub http: Listen,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    pub database: DatabasePoolConfig,
    pub keys: KeysConfig,
    pub amqp: AmqpConfig,
    pub tls: pinit_kernel::tls::TlsSettings,
    pub internal: InternalConfig,
    pub messaging: pinit_messaging::MessagingConfig,
    pub cors: CorsConfig,
    pub auth: pinit_auth::Settings,
    pub task: pinit_task::Settings,
    pub notification: pinit_notification::Settings,
    pub gateway: pinit_gateway::Settings,
}

/// Top-level keys (`PINIT_<KEY>`).
const TOP_LEVEL: &[&str] = &["data_dir"];
/// Sections (`PINIT_<SECTION>_<KEY>`).
const SECTIONS: &[&str] = &[
    "http",
    "metrics",
    "log",
    "shutdown",
    "database",
    "keys",
    "amqp",
    "tls",
    "internal",
    "messaging",
    "cors",
    "auth",
    "task",
    "notification",
    "gateway",
];

impl Config {
    pub fn defaults(mode: Mode) -> Config {
        let host = if mode.distributed() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let (http_port, metrics_port) = mode.default_ports();
        Config {
            data_dir: PathBuf::from("./pinit-data"),
            http: Listen {
                host,
                port: http_port,
            },
            metrics: MetricsConfig {
                enabled: true,
                host: None,
                port: metrics_port,
            },
            log: LogConfig::default(),
            shutdown: ShutdownConfig {
                lame_duck: HumanDuration::from_secs(if mode.distributed() { 2 } else { 0 }),
                ..Default::default()
            },
            database: DatabasePoolConfig::default(),
            keys: KeysConfig::default(),
            amqp: AmqpConfig {
                url: ConnectionUrl::parse("amqp://guest:guest@127.0.0.1:5672/%2f")
                    .expect("static URL"),
            },
            tls: Default::default(),
            internal: Default::default(),
            messaging: Default::default(),
            cors: CorsConfig::default(),
            auth: pinit_auth::Settings {
                // `pinit serve` is plain HTTP on localhost; behind TLS turn it on (PINIT_AUTH_COOKIE__SECURE).
                cookie: pinit_auth::settings::CookieSettings {
                    secure: mode.distributed(),
                    ..Default::default()
                },
                ..Default::default()
            },
            task: Default::default(),
            notification: Default::default(),
            gateway: Default::default(),
        }
    }

    /// The gateway-to-service identity key: `internal.identity_key`, or in `pinit serve` a fresh one.
    pub fn identity_key(&self, mode: Mode) -> Result<IdentityKey, ConfigError> {
        let invalid = |problem: String| ConfigError::Invalid {
            key: "internal.identity_key".into(),
            source_hint: "PINIT_INTERNAL_IDENTITY_KEY".into(),
            problem,
        };
        let key = match &self.internal.identity_key {
            Some(text) if !text.is_empty() => {
                IdentityKey::parse(text.expose()).map_err(|e| invalid(e.to_string()))?
            }
            _ if !mode.distributed() => IdentityKey::generate(),
            _ => {
                return Err(invalid(
                    "is required: the gateway and the services share it (32 random bytes, base64: \
                 `head -c 32 /dev/urandom | base64`)"
                        .into(),
                ));
            }
        };
        match &self.internal.previous_identity_key {
            Some(text) if !text.is_empty() => {
                let previous =
                    IdentityKey::parse(text.expose()).map_err(|e| ConfigError::Invalid {
                        key: "internal.previous_identity_key".into(),
                        source_hint: "PINIT_INTERNAL_PREVIOUS_IDENTITY_KEY".into(),
                        problem: e.to_string(),
                    })?;
                Ok(key.also_accepting(&previous))
            }
            _ => Ok(key),
        }
    }

    /// The directory holding the key files.
    pub fn keys_dir(&self) -> PathBuf {
        self.keys
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// A context's database URL: configured, or (embedded mode and tools) a SQLite file in the data dir.
    pub fn database_url(&self, context: &str, mode: Mode) -> Result<ConnectionUrl, ConfigError> {
        let configured = match context {
            "auth" => self.auth.database_url.clone(),
            "task" => self.task.database_url.clone(),
            "notification" => self.notification.database_url.clone(),
            _ => None,
        };
        match configured {
            Some(url) => Ok(pinit_kernel::tls::postgres_url(
                &url,
                self.database.ssl_mode,
                &self.tls,
            )),
            None if !mode.distributed() => Ok(pinit_kernel::Db::sqlite_url(
                &self.data_dir.join(format!("{context}.db")),
            )),
            None => Err(ConfigError::Invalid {
                key: format!("{context}.database_url"),
                source_hint: format!("PINIT_{}_DATABASE_URL", context.to_uppercase()),
                problem: format!(
                    "is required for `pinit {context}`; e.g. postgres://pinit@db:5432/pinit_{context}"
                ),
            }),
        }
    }
}

/// Command-line flags that override configuration keys (only those given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub entries: Vec<(&'static str, &'static str, Value)>,
}

impl Overrides {
    pub fn set(&mut self, key: &'static str, flag: &'static str, value: impl Into<Value>) {
        self.entries.push((key, flag, value.into()));
    }
}

/// A configuration problem, explained in one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {key} ({source_hint}) {problem}")]
    Invalid {
        key: String,
        source_hint: String,
        problem: String,
    },
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Other(String),
}

/// The loaded configuration and what is worth telling about how it was loaded.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Loads and checks the configuration for `mode`.
pub fn load(mode: Mode, file: Option<&Path>, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    load_from(mode, file, overrides, std::env::vars())
}

/// As [`load`], with the environment given explicitly (tests).
pub fn load_from(
    mode: Mode,
    file: Option<&Path>,
    overrides: &Overrides,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::defaults(mode)));
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::MissingFile(path.to_path_buf()));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let env = PinitEnv::from_vars(env);
    let mut warnings = env.warnings.clone();
    figment = figment.merge(env);
    for (key, flag, value) in &overrides.entries {
        figment = figment.merge(FlagProvider {
            key,
            flag,
            value: value.clone(),
        });
    }
    let config: Config = figment.extract_lossy().map_err(explain)?;
    check(&config, mode, &mut warnings)?;
    Ok(Loaded { config, warnings })
}

/// Checks that need more than one key or more than a type.
fn check(config: &Config, mode: Mode, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    if let Err(reason) = pinit_kernel::telemetry::check_filter(&config.log.level) {
        return Err(ConfigError::Invalid {
            key: "log.level".into(),
            source_hint: "PINIT_LOG_LEVEL, --log-level".into(),
            problem: format!(
                "`{}` is not a log filter ({reason}); use e.g. `info` or `info,pinit_task=debug`",
                config.log.level
            ),
        });
    }
    if config.metrics.enabled && config.metrics.port != 0 && config.metrics.port == config.http.port
    {
        return Err(ConfigError::Invalid {
            key: "metrics.port".into(),
            source_hint: "PINIT_METRICS_PORT".into(),
            problem: format!(
                "is the same as http.port ({}); metrics need a port of their own",
                config.http.port
            ),
        });
    }
    for (context, url) in [
        ("auth", &config.auth.database_url),
        ("task", &config.task.database_url),
        ("notification", &config.notification.database_url),
    ] {
        if let Some(url) = url
            && let Err(e) = pinit_kernel::Backend::from_url(url)
        {
            return Err(ConfigError::Invalid {
                key: format!("{context}.database_url"),
                source_hint: format!("PINIT_{}_DATABASE_URL", context.to_uppercase()),
                problem: e.to_string(),
            });
        }
    }
    if let Err(e) = pinit_kernel::tls::TlsMaterial::load(&config.tls) {
        return Err(ConfigError::Invalid {
            key: e.key().into(),
            source_hint: env_name(&e.key().split('.').map(String::from).collect::<Vec<_>>()),
            problem: e.to_string(),
        });
    }
    if !matches!(config.amqp.url.scheme(), "amqp" | "amqps") {
        return Err(ConfigError::Invalid {
            key: "amqp.url".into(),
            source_hint: "PINIT_AMQP_URL".into(),
            problem: format!(
                "must be an amqp:// or amqps:// URL, not `{}`",
                config.amqp.url
            ),
        });
    }
    if matches!(mode, Mode::Serve | Mode::Auth)
        && let Some((key, problem)) = config.auth.problems().into_iter().next()
    {
        return Err(ConfigError::Invalid {
            source_hint: env_name(&key.split('.').map(String::from).collect::<Vec<_>>()),
            key: key.into(),
            problem,
        });
    }
    if matches!(mode, Mode::Serve | Mode::Notification)
        && let Some((key, problem)) = config.notification.problems().into_iter().next()
    {
        return Err(ConfigError::Invalid {
            source_hint: env_name(&key.split('.').map(String::from).collect::<Vec<_>>()),
            key: key.into(),
            problem,
        });
    }
    if matches!(mode, Mode::Serve | Mode::Auth)
        && let Err(e) = pinit_auth::oauth::ProviderRegistry::new(&config.auth.oauth)
    {
        return Err(ConfigError::Invalid {
            key: "auth.oauth".into(),
            source_hint: "PINIT_AUTH_OAUTH__…".into(),
            problem: e.to_string(),
        });
    }
    if config.gateway.token_leeway.is_some() {
        warnings.push(
            "gateway.token_leeway is no longer used and is ignored: the gateway and auth share one fixed \
             expiry leeway (5 s); remove the setting"
                .into(),
        );
    }
    match mode {
        Mode::Auth | Mode::Task | Mode::Notification => {
            config.database_url(mode.name(), mode)?;
            if mode == Mode::Notification && config.notification.task_grpc_url.is_none() {
                return Err(ConfigError::Invalid {
                    key: "notification.task_grpc_url".into(),
                    source_hint: "PINIT_NOTIFICATION_TASK_GRPC_URL".into(),
                    problem: "is required for `pinit notification`; e.g. http://task:9090".into(),
                });
            }
        }
        Mode::Gateway => {
            for (service, value) in [
                (Mode::Auth, &config.gateway.auth_url),
                (Mode::Task, &config.gateway.task_url),
                (Mode::Notification, &config.gateway.notification_url),
            ] {
                if value.is_none() {
                    let key = format!("gateway.{}_url", service.name());
                    return Err(ConfigError::Invalid {
                        source_hint: format!("PINIT_{}", key.replace('.', "_").to_uppercase()),
                        key,
                        problem: format!(
                            "is required for `pinit gateway`; e.g. http://{0}:{1} ({0}'s default port)",
                            service.name(),
                            service.default_ports().0
                        ),
                    });
                }
            }
        }
        Mode::Serve => {
            if config.http.host.is_unspecified() {
                warnings.push(format!(
                    "http.host is {}: Pinit is reachable from other machines on this network",
                    config.http.host
                ));
            }
        }
    }
    config.identity_key(mode)?;
    Ok(())
}

/// Turns figment's error into one line naming the key, where it came from, what was wrong and what is allowed.
fn explain(error: figment::Error) -> ConfigError {
    let Some(first) = error.into_iter().next() else {
        return ConfigError::Other("unknown error".into());
    };
    let key = if first.path.is_empty() {
        "(top level)".to_string()
    } else {
        first.path.join(".")
    };
    let source_hint = match &first.metadata {
        Some(meta) => match &meta.source {
            Some(figment::Source::File(path)) => format!("in {}", path.display()),
            _ if meta.name == "environment" || meta.name == "command-line flag" => {
                meta.interpolate(&Profile::Default, &first.path)
            }
            _ => meta.name.to_string(),
        },
        None => "default".into(),
    };
    let problem = humanize(&first.kind);
    ConfigError::Invalid {
        key,
        source_hint,
        problem,
    }
}

fn humanize(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    let expected = |e: &str| -> String {
        match e {
            "u16" => "a whole number from 0 to 65535".into(),
            "u8" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
            "i32" | "i64" => "a whole number".into(),
            "a boolean" | "bool" => "true or false".into(),
            other => other.to_string(),
        }
    };
    match kind {
        Kind::InvalidType(actual, exp) => format!("expected {}, found {actual}", expected(exp)),
        Kind::InvalidValue(actual, exp) => format!("expected {}, found {actual}", expected(exp)),
        Kind::UnknownVariant(v, allowed) => format!(
            "`{v}` is not allowed; use one of: {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::UnknownField(f, allowed) => format!(
            "has no setting `{f}`; known settings: {}",
            allowed.join(", ")
        ),
        Kind::MissingField(f) => format!("needs `{f}`"),
        other => {
            let text = other.to_string();
            // `invalid IP address syntax` is all serde says for hosts.
            if text.contains("invalid IP address syntax") {
                "expected an IP address such as 127.0.0.1 or 0.0.0.0".into()
            } else {
                text
            }
        }
    }
}

/// `PINIT_…` environment variables as a figment provider that names the variable in errors.
struct PinitEnv {
    dict: Dict,
    warnings: Vec<String>,
}

impl PinitEnv {
    fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut dict = Dict::new();
        let mut warnings = Vec::new();
        let mut legacy_insecure = None;
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("PINIT_") else {
                continue;
            };
            // Variables that are not configuration keys.
            if rest == "CONFIG" || rest.starts_with("TEST_") {
                continue;
            }
            if rest == LEGACY_INSECURE_PUSH {
                legacy_insecure = Some(legacy_insecure_flag(&value));
                continue;
            }
            match key_path(rest) {
                Some(path) => insert(&mut dict, &path, Value::from(value)),
                None => warnings.push(format!(
                    "ignoring environment variable {name}: no such setting (see `pinit config`)"
                )),
            }
        }
        // The older name of `notification.allow_insecure_endpoints`; the setting's own variable wins.
        if let Some(allow) = legacy_insecure {
            let section = dict
                .entry("notification".to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = section {
                inner
                    .entry("allow_insecure_endpoints".to_string())
                    .or_insert_with(|| Value::from(allow));
            }
        }
        Self { dict, warnings }
    }
}

/// `PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS`, the older name of `PINIT_NOTIFICATION_ALLOW_INSECURE_ENDPOINTS`.
const LEGACY_INSECURE_PUSH: &str = "PUSH_ALLOW_INSECURE_ENDPOINTS";

/// What the older variable always meant: on for `true` or `1` (any case, trimmed), off for anything else.
fn legacy_insecure_flag(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1")
}

fn key_path(rest: &str) -> Option<Vec<String>> {
    let lower = rest.to_ascii_lowercase();
    if TOP_LEVEL.contains(&lower.as_str()) {
        return Some(vec![lower]);
    }
    let (section, key) = lower.split_once('_')?;
    if !SECTIONS.contains(&section) || key.is_empty() {
        return None;
    }
    let mut path = vec![section.to_string()];
    path.extend(key.split("__").map(str::to_string));
    Some(path)
}

fn env_name(path: &[String]) -> String {
    match path.split_first() {
        Some((first, rest)) if !rest.is_empty() => {
            format!("PINIT_{}_{}", first, rest.join("__")).to_uppercase()
        }
        Some((first, _)) => format!("PINIT_{first}").to_uppercase(),
        None => "PINIT_*".into(),
    }
}

fn insert(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

impl Provider for PinitEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_profile: &Profile, keys: &[&str]| {
            env_name(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// One command-line flag as a provider, so errors name the flag.
struct FlagProvider<'a> {
    key: &'a str,
    flag: &'a str,
    value: Value,
}

impl Provider for FlagProvider<'_> {
    fn metadata(&self) -> Metadata {
        let flag = self.flag.to_string();
        Metadata::named("command-line flag")
            .interpolater(move |_: &Profile, _: &[&str]| flag.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let path: Vec<String> = self.key.split('.').map(str::to_string).collect();
        let mut dict = Dict::new();
        insert(&mut dict, &path, self.value.clone());
        Ok(Profile::Default.collect(dict))
    }
}

/// The configuration as TOML with secrets redacted (`pinit config`).
pub fn render(config: &Config) -> String {
    toml::to_string_pretty(config).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinit_kernel::config::LogFormat;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A valid `internal.identity_key` (32 bytes, base64), which the four services require.
    const IDENTITY: (&str, &str) = (
        "PINIT_INTERNAL_IDENTITY_KEY",
        "cGluaXQtdGVzdC1pZGVudGl0eS1rZXktMzItYnl0ZXM=",
    );

    fn load_env(mode: Mode, pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        load_from(mode, None, &Overrides::default(), env(pairs))
    }

    #[test]
    fn only_true_or_one_lifts_the_guard() {
        for v in ["true", "1", " TRUE "] {
            assert!(legacy_insecure_flag(v), "{v}");
        }
        for v in ["", "0", "false", "yes"] {
            assert!(!legacy_insecure_flag(v), "{v:?}");
        }
    }

    #[test]
    fn the_older_insecure_push_variable_sets_the_notification_setting() {
        let on = |pairs: &[(&str, &str)]| {
            load_env(Mode::Serve, pairs)
                .unwrap()
                .config
                .notification
                .allow_insecure_endpoints
        };
        assert!(!on(&[]));
        assert!(on(&[("PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS", "1")]));
        assert!(!on(&[("PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS", "yes")]));
        assert!(on(&[(
            "PINIT_NOTIFICATION_ALLOW_INSECURE_ENDPOINTS",
            "true"
        )]));
        // The setting's own variable wins over the older one.
        assert!(!on(&[
            ("PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS", "1"),
            ("PINIT_NOTIFICATION_ALLOW_INSECURE_ENDPOINTS", "false"),
        ]));
        let shown = render(
            &load_env(Mode::Serve, &[("PINIT_PUSH_ALLOW_INSECURE_ENDPOINTS", "1")])
                .unwrap()
                .config,
        );
        assert!(shown.contains("allow_insecure_endpoints = true"), "{shown}");
    }

    #[test]
    fn serve_defaults_listen_on_loopback() {
        let loaded = load_env(Mode::Serve, &[]).unwrap();
        assert_eq!(loaded.config.http.addr().to_string(), "127.0.0.1:8080");
        assert_eq!(loaded.config.data_dir, PathBuf::from("./pinit-data"));
        let url = loaded.config.database_url("task", Mode::Serve).unwrap();
        assert!(url.expose().starts_with("sqlite://"), "{url}");
        assert!(url.expose().ends_with("task.db?mode=rwc"), "{url}");
    }

    #[test]
    fn services_listen_everywhere_and_need_a_database() {
        let err = load_env(Mode::Task, &[]).unwrap_err().to_string();
        assert!(
            err.contains("task.database_url (PINIT_TASK_DATABASE_URL) is required"),
            "{err}"
        );
        let database = (
            "PINIT_TASK_DATABASE_URL",
            "postgres://pinit:pw@db/pinit_task",
        );
        let err = load_env(Mode::Task, &[database]).unwrap_err().to_string();
        assert!(
            err.contains("internal.identity_key (PINIT_INTERNAL_IDENTITY_KEY) is required"),
            "{err}"
        );
        let loaded = load_env(Mode::Task, &[database, IDENTITY]).unwrap();
        assert_eq!(loaded.config.http.addr().to_string(), "0.0.0.0:8082");
    }

    #[test]
    fn the_four_services_have_ports_of_their_own_and_serve_keeps_8080() {
        let mut taken = std::collections::HashMap::new();
        for mode in [Mode::Auth, Mode::Task, Mode::Notification, Mode::Gateway] {
            let config = Config::defaults(mode);
            let mut ports = vec![config.http.port, config.metrics.port];
            if mode == Mode::Task {
                ports.push(config.task.grpc_port);
            }
            for port in ports {
                if let Some(other) = taken.insert(port, mode) {
                    panic!(
                        "{} and {} both default to port {port}",
                        other.name(),
                        mode.name()
                    );
                }
            }
        }
        let serve = Config::defaults(Mode::Serve);
        assert_eq!((serve.http.port, serve.metrics.port), (8080, 9095));
        let gateway = Config::defaults(Mode::Gateway);
        assert_eq!(gateway.http.port, 8080, "the public face stays on 8080");
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pinit.toml");
        std::fs::write(
            &file,
            "[http]\nport = 7000\n[log]\nformat = \"json\"\nlevel = \"debug\"\n",
        )
        .unwrap();
        let mut flags = Overrides::default();
        flags.set("log.level", "--log-level", "warn");
        let loaded = load_from(
            Mode::Serve,
            Some(&file),
            &flags,
            env(&[("PINIT_HTTP_PORT", "7100"), ("PINIT_LOG_LEVEL", "info")]),
        )
        .unwrap();
        assert_eq!(loaded.config.http.port, 7100, "env beats file");
        assert_eq!(
            loaded.config.log.format,
            LogFormat::Json,
            "file beats default"
        );
        assert_eq!(loaded.config.log.level, "warn", "flag beats env");
    }

    #[test]
    fn bad_values_name_the_key_the_source_and_what_is_allowed() {
        let err = load_env(Mode::Serve, &[("PINIT_HTTP_PORT", "eighty")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.port"), "{err}");
        assert!(err.contains("PINIT_HTTP_PORT"), "{err}");
        assert!(err.contains("0 to 65535"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");

        let err = load_env(Mode::Serve, &[("PINIT_LOG_FORMAT", "xml")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.format (PINIT_LOG_FORMAT)"), "{err}");
        assert!(err.contains("`pretty`") && err.contains("`json`"), "{err}");

        let err = load_env(Mode::Serve, &[("PINIT_SHUTDOWN_DRAIN_TIMEOUT", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("shutdown.drain_timeout"), "{err}");
        assert!(err.contains("30s"), "{err}");

        let err = load_env(Mode::Serve, &[("PINIT_LOG_FROMAT", "json")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no setting `fromat`"), "{err}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pinit.toml");
        std::fs::write(&file, "[metrics]\nenabled = \"sometimes\"\n").unwrap();
        let err = load_from(Mode::Serve, Some(&file), &Overrides::default(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("metrics.enabled"), "{err}");
        assert!(err.contains("pinit.toml"), "{err}");
        let missing = load_from(
            Mode::Serve,
            Some(&dir.path().join("nope.toml")),
            &Overrides::default(),
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("does not exist"), "{missing}");
    }

    #[test]
    fn unknown_variables_are_reported_not_fatal() {
        let loaded = load_env(
            Mode::Serve,
            &[("PINIT_TYPO", "1"), ("PINIT_TEST_POSTGRES_URL", "x")],
        )
        .unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("PINIT_TYPO"));
    }

    #[test]
    fn the_retired_token_leeway_still_starts_with_a_warning() {
        let loaded = load_env(Mode::Serve, &[("PINIT_GATEWAY_TOKEN_LEEWAY", "30s")]).unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("gateway.token_leeway is no longer used"));
    }

    #[test]
    fn lists_and_deep_keys_come_from_the_environment() {
        let loaded = load_env(
            Mode::Serve,
            &[("PINIT_CORS_ORIGINS", "https://a.example,https://b.example")],
        )
        .unwrap();
        assert_eq!(loaded.config.cors.origins.0.len(), 2);
        assert_eq!(
            key_path("AUTH_OAUTH__NAVER__CLIENT_ID").unwrap(),
            vec!["auth", "oauth", "naver", "client_id"]
        );
        assert_eq!(
            env_name(&["auth".into(), "oauth".into(), "naver".into()]),
            "PINIT_AUTH_OAUTH__NAVER"
        );
    }

    #[test]
    fn a_previous_identity_key_is_accepted_beside_the_key() {
        let old = IdentityKey::generate_text();
        let loaded = load_env(
            Mode::Gateway,
            &[
                IDENTITY,
                ("PINIT_INTERNAL_PREVIOUS_IDENTITY_KEY", &old),
                ("PINIT_GATEWAY_AUTH_URL", "http://auth"),
                ("PINIT_GATEWAY_TASK_URL", "http://task"),
                ("PINIT_GATEWAY_NOTIFICATION_URL", "http://notification"),
            ],
        )
        .unwrap();
        let key = loaded.config.identity_key(Mode::Gateway).unwrap();
        let by_old = IdentityKey::parse(&old).unwrap().sign(1, "GET", "/x", 100);
        assert_eq!(
            key.verify(by_old.to_str().unwrap(), "GET", "/x", 100),
            Some(1)
        );
        let signed = key.sign(1, "GET", "/x", 100);
        let current = IdentityKey::parse(IDENTITY.1).unwrap();
        assert_eq!(
            current.verify(signed.to_str().unwrap(), "GET", "/x", 100),
            Some(1)
        );
    }

    #[test]
    fn metrics_listen_where_the_service_does_unless_told() {
        let database = (
            "PINIT_TASK_DATABASE_URL",
            "postgres://pinit:pw@db/pinit_task",
        );
        let loopback = ("PINIT_HTTP_HOST", "127.0.0.1");
        let loaded = load_env(Mode::Task, &[database, IDENTITY, loopback]).unwrap();
        let c = &loaded.config;
        assert_eq!(c.metrics.addr(c.http.host).to_string(), "127.0.0.1:9097");
        let loaded = load_env(Mode::Task, &[database, IDENTITY]).unwrap();
        let c = &loaded.config;
        assert_eq!(c.metrics.addr(c.http.host).to_string(), "0.0.0.0:9097");
        let own = ("PINIT_METRICS_HOST", "10.0.0.5");
        let loaded = load_env(Mode::Task, &[database, IDENTITY, loopback, own]).unwrap();
        let c = &loaded.config;
        assert_eq!(c.metrics.addr(c.http.host).to_string(), "10.0.0.5:9097");
        let serve = load_env(Mode::Serve, &[]).unwrap().config;
        assert_eq!(
            serve.metrics.addr(serve.http.host).to_string(),
            "127.0.0.1:9095"
        );
    }

    #[test]
    fn services_have_a_lame_duck_period_without_any_prestop_hook() {
        let database = (
            "PINIT_TASK_DATABASE_URL",
            "postgres://pinit:pw@db/pinit_task",
        );
        let task = load_env(Mode::Task, &[database, IDENTITY]).unwrap().config;
        assert_eq!(task.shutdown.lame_duck.get().as_secs(), 2);
        let serve = load_env(Mode::Serve, &[]).unwrap().config;
        assert!(serve.shutdown.lame_duck.get().is_zero());
        let off = load_env(
            Mode::Task,
            &[database, IDENTITY, ("PINIT_SHUTDOWN_LAME_DUCK", "0s")],
        );
        assert!(off.unwrap().config.shutdown.lame_duck.get().is_zero());
    }

    #[test]
    fn a_missing_upstream_suggests_its_own_service() {
        let err = load_env(Mode::Gateway, &[IDENTITY])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gateway.auth_url") && err.contains("e.g. http://auth:8081"),
            "{err}"
        );
    }

    #[test]
    fn rendering_redacts_secrets() {
        let loaded = load_env(
            Mode::Task,
            &[
                (
                    "PINIT_TASK_DATABASE_URL",
                    "postgres://pinit:hunter2@db/pinit_task",
                ),
                ("PINIT_AMQP_URL", "amqp://pinit:rabbitpw@mq:5672/%2fpinit"),
                IDENTITY,
            ],
        )
        .unwrap();
        let text = render(&loaded.config);
        assert!(
            !text.contains("hunter2") && !text.contains("rabbitpw") && !text.contains(IDENTITY.1),
            "{text}"
        );
        assert!(
            text.contains("postgres://pinit:REDACTED@db/pinit_task"),
            "{text}"
        );
    }
}
