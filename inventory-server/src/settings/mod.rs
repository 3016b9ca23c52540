//! Configuration from the environment (and `.env` when present).

use std::collections::HashMap;
use std::net::IpAddr;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Everything the server reads at start.
#[derive(Clone)]
pub struct Settings {
    /// Interface to listen on (`HOST`, default `0.0.0.0`).
    pub host: IpAddr,
    /// Port (`PORT`, default 8000; 0 picks a free one).
    pub port: u16,
    /// `DATABASE_URL`: `sqlite://inventory.db` (default), `sqlite:///abs/path.db`, or a
    /// `postgres://` / `postgresql://` URL.
    pub database_url: String,
    /// `WEBHOOK_SECRET`; without it the payment webhook answers 503.
    pub webhook_secret: Option<String>,
    /// `MAX_BODY_BYTES`, default 65536: larger bodies are answered 413.
    pub max_body_bytes: usize,
    /// `MAX_BULK_BODY_BYTES`, default 1048576: the same limit for `POST /products/bulk`, whose
    /// 1,000 products do not fit in the default `MAX_BODY_BYTES`.
    pub max_bulk_body_bytes: usize,
    /// `LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `DATABASE_POOL_SIZE`: connections to PostgreSQL per instance (default 16).
    pub pool_size: usize,
    /// `API_KEY`: one key, or several separated by commas (rotation). When set, every write
    /// on products and orders needs one of them. Empty: writes are open.
    pub api_keys: Vec<String>,
    /// `RATE_LIMIT`: requests per second per client (default 100, burst `RATE_LIMIT_BURST`,
    /// default 200); 0 turns limiting off.
    pub rate_limit: u32,
    /// `RATE_LIMIT_BURST`: requests a client may send at once.
    pub rate_limit_burst: u32,
    /// `TRUST_PROXY`: take the client address from `X-Forwarded-For` (behind Render's proxy).
    pub trust_proxy: bool,
    /// `REQUIRE_IF_MATCH` (default false): a `PUT` or `DELETE` of a product or an order without
    /// `If-Match` is answered 428, so no client can overwrite a change it has not seen.
    pub require_if_match: bool,
    /// `ORDER_TTL` (e.g. `15m`): PENDING orders older than this are canceled. Off by default.
    pub order_ttl: Option<std::time::Duration>,
    /// `IDEMPOTENCY_TTL` (default `24h`): how long `Idempotency-Key`s are honoured.
    pub idempotency_ttl: std::time::Duration,
    /// `WEBHOOK_SCHEME`: `hex` (default), `stripe` or `standard`.
    pub webhook_scheme: inventory_core::webhook::WebhookScheme,
    /// `HEADER_READ_TIMEOUT` (default `10s`): a request's head (request line and headers) must
    /// be complete this long after its first byte arrived, or the connection is closed.
    pub header_read_timeout: std::time::Duration,
    /// `IDLE_TIMEOUT` (default `75s`): a connection with no request in progress and no byte
    /// sent or received for this long is closed (idle keep-alive, a client that stopped reading).
    pub idle_timeout: std::time::Duration,
    /// `BODY_READ_TIMEOUT` (default `30s`): a request body must be complete this long after its
    /// head, or the request is answered 408 and the connection closed.
    pub body_read_timeout: std::time::Duration,
    /// `MAX_CONNECTIONS` (default 1024): connections served at once; further ones wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and any password in the URL stay out of logs.
        f.debug_struct("Settings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &redact_url(&self.database_url))
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<set>"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_bulk_body_bytes", &self.max_bulk_body_bytes)
            .field("log_format", &self.log_format)
            .field("pool_size", &self.pool_size)
            .field("api_keys", &self.api_keys.len())
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("trust_proxy", &self.trust_proxy)
            .field("require_if_match", &self.require_if_match)
            .field("order_ttl", &self.order_ttl)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("webhook_scheme", &self.webhook_scheme)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// A setting with an invalid value: names the variable, so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct SettingsError {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

mod database_url;
pub use database_url::{DatabaseKind, database_kind, redact_url};

/// A boolean setting: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case.
fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The secrets of `WEBHOOK_SECRET`: split on commas (several allow rotation), each used byte
/// for byte. An empty entry, or one with leading or trailing whitespace (which would silently
/// become part of the key), is refused rather than trimmed.
pub fn webhook_secrets(value: &str) -> Result<Vec<&str>, SettingsError> {
    let invalid = |reason: String| SettingsError {
        variable: "WEBHOOK_SECRET",
        value: "<hidden>".into(),
        reason,
    };
    let secrets: Vec<&str> = value.split(',').collect();
    for (index, secret) in secrets.iter().enumerate() {
        if secret.is_empty() {
            return Err(invalid(format!(
                "secret #{index} is empty (the value is split on commas)"
            )));
        }
        if secret.trim() != *secret {
            return Err(invalid(format!(
                "secret #{index} starts or ends with whitespace; secrets are used byte for byte"
            )));
        }
    }
    Ok(secrets)
}

/// A body limit: 1 byte to 64 MiB.
fn body_bytes(name: &'static str, v: &str) -> Result<usize, SettingsError> {
    v.parse()
        .ok()
        .filter(|n| (1..=64 * 1024 * 1024).contains(n))
        .ok_or_else(|| SettingsError {
            variable: name,
            value: v.to_owned(),
            reason: "expected bytes, 1 to 67108864".to_owned(),
        })
}

impl Settings {
    /// Every environment variable the server reads (`RUST_LOG` is read by the log filter).
    pub const VARIABLES: &'static [&'static str] = &[
        "HOST",
        "PORT",
        "DATABASE_URL",
        "WEBHOOK_SECRET",
        "MAX_BODY_BYTES",
        "MAX_BULK_BODY_BYTES",
        "LOG_FORMAT",
        "DATABASE_POOL_SIZE",
        "API_KEY",
        "RATE_LIMIT",
        "RATE_LIMIT_BURST",
        "TRUST_PROXY",
        "REQUIRE_IF_MATCH",
        "ORDER_TTL",
        "IDEMPOTENCY_TTL",
        "WEBHOOK_SCHEME",
        "HEADER_READ_TIMEOUT",
        "IDLE_TIMEOUT",
        "BODY_READ_TIMEOUT",
        "MAX_CONNECTIONS",
        "RUST_LOG",
    ];

    /// Settings for tests: `127.0.0.1`, a random port, the given database, defaults otherwise.
    pub fn for_database(database_url: impl Into<String>) -> Settings {
        Settings {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            database_url: database_url.into(),
            webhook_secret: None,
            max_body_bytes: 65_536,
            max_bulk_body_bytes: 1_048_576,
            log_format: LogFormat::Pretty,
            // The PostgreSQL store's own default: 8 measurably capped orders/s at 200 clients.
            pool_size: 16,
            api_keys: Vec::new(),
            rate_limit: 0,
            rate_limit_burst: 200,
            trust_proxy: false,
            require_if_match: false,
            order_ttl: None,
            idempotency_ttl: std::time::Duration::from_secs(24 * 3600),
            webhook_scheme: inventory_core::webhook::WebhookScheme::Hex,
            header_read_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(75),
            body_read_timeout: std::time::Duration::from_secs(30),
            max_connections: 1024,
        }
    }

    /// Reads the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Settings, SettingsError> {
        // A missing `.env` is normal; a malformed one is reported by name.
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(SettingsError {
                variable: ".env",
                value: String::new(),
                reason: e.to_string(),
            });
        }
        Settings::from_vars(std::env::vars().collect())
    }

    /// Reads settings from a map of variables (what `from_env` does, testable).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let invalid = |variable: &'static str, value: &str, reason: &str| SettingsError {
            variable,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let mut s = Settings::for_database("sqlite://inventory.db");
        s.host = IpAddr::from([0, 0, 0, 0]);
        s.port = 8000;
        s.rate_limit = 100;
        if let Some(v) = get("HOST") {
            s.host = v
                .parse()
                .map_err(|_| invalid("HOST", v, "expected an IP address"))?;
        }
        if let Some(v) = get("PORT") {
            s.port = v
                .parse()
                .map_err(|_| invalid("PORT", v, "expected a port number 0-65535"))?;
        }
        if let Some(v) = get("DATABASE_URL") {
            database_kind(v).map_err(|reason| invalid("DATABASE_URL", &redact_url(v), &reason))?;
            s.database_url = v.to_owned();
        }
        // The secrets are used byte for byte: not trimmed (see `webhook_secrets`).
        s.webhook_secret = vars
            .get("WEBHOOK_SECRET")
            .filter(|v| !v.is_empty())
            .cloned();
        if let Some(v) = &s.webhook_secret {
            webhook_secrets(v)?;
        }
        if let Some(v) = get("MAX_BODY_BYTES") {
            s.max_body_bytes = body_bytes("MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = get("MAX_BULK_BODY_BYTES") {
            s.max_bulk_body_bytes = body_bytes("MAX_BULK_BODY_BYTES", v)?;
        }
        if let Some(v) = get("LOG_FORMAT") {
            s.log_format = match v.to_ascii_lowercase().as_str() {
                "json" => LogFormat::Json,
                "pretty" | "text" => LogFormat::Pretty,
                _ => return Err(invalid("LOG_FORMAT", v, "expected json or pretty")),
            };
        }
        if let Some(v) = get("DATABASE_POOL_SIZE") {
            s.pool_size = v
                .parse()
                .ok()
                .filter(|n| (1..=512).contains(n))
                .ok_or_else(|| invalid("DATABASE_POOL_SIZE", v, "expected 1 to 512"))?;
        }
        if let Some(v) = get("API_KEY") {
            s.api_keys = v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from)
                .collect();
            if s.api_keys.iter().any(|k| k.len() < 16) {
                // Never echo a key back: name the rule only.
                return Err(invalid(
                    "API_KEY",
                    "<hidden>",
                    "each key needs at least 16 characters",
                ));
            }
        }
        if let Some(v) = get("RATE_LIMIT") {
            s.rate_limit = v
                .parse()
                .map_err(|_| invalid("RATE_LIMIT", v, "expected requests per second, 0 = off"))?;
        }
        if let Some(v) = get("RATE_LIMIT_BURST") {
            s.rate_limit_burst = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid("RATE_LIMIT_BURST", v, "expected a positive number"))?;
        }
        if let Some(v) = get("TRUST_PROXY") {
            s.trust_proxy =
                flag(v).ok_or_else(|| invalid("TRUST_PROXY", v, "expected true or false"))?;
        }
        if let Some(v) = get("REQUIRE_IF_MATCH") {
            s.require_if_match =
                flag(v).ok_or_else(|| invalid("REQUIRE_IF_MATCH", v, "expected true or false"))?;
        }
        if let Some(v) = get("ORDER_TTL") {
            let ttl = parse_duration(v).map_err(|r| invalid("ORDER_TTL", v, &r))?;
            s.order_ttl = (!ttl.is_zero()).then_some(ttl);
        }
        if let Some(v) = get("IDEMPOTENCY_TTL") {
            s.idempotency_ttl = parse_duration(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| invalid("IDEMPOTENCY_TTL", v, "expected a duration such as 24h"))?;
        }
        if let Some(v) = get("WEBHOOK_SCHEME") {
            s.webhook_scheme = v
                .parse()
                .map_err(|_| invalid("WEBHOOK_SCHEME", v, "expected hex, stripe or standard"))?;
        }
        let timeout = |variable: &'static str, default| match get(variable) {
            None => Ok(default),
            Some(v) => parse_duration(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| invalid(variable, v, "expected a duration of 1s or more, e.g. 10s")),
        };
        s.header_read_timeout = timeout("HEADER_READ_TIMEOUT", s.header_read_timeout)?;
        s.idle_timeout = timeout("IDLE_TIMEOUT", s.idle_timeout)?;
        s.body_read_timeout = timeout("BODY_READ_TIMEOUT", s.body_read_timeout)?;
        if let Some(v) = get("MAX_CONNECTIONS") {
            s.max_connections = v
                .parse()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| invalid("MAX_CONNECTIONS", v, "expected 1 to 1000000"))?;
        }
        Ok(s)
    }
}

/// Reads `90s`, `15m`, `2h`, `1d` or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a duration such as 90s, 15m or 2h".to_string())?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err("expected a duration such as 90s, 15m or 2h".into()),
    };
    if secs > 365 * 86_400 {
        return Err("at most a year".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::from_vars(HashMap::new()).expect("defaults");
        assert_eq!((s.port, s.host.to_string()), (8000, "0.0.0.0".to_string()));
        assert_eq!(
            database_kind(&s.database_url),
            Ok(DatabaseKind::Sqlite("inventory.db".into()))
        );
        assert_eq!(
            (s.max_body_bytes, s.log_format),
            (65_536, LogFormat::Pretty)
        );
        assert!(s.webhook_secret.is_none());
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (k, v) in [
            ("PORT", "abc"),
            ("PORT", "70000"),
            ("DATABASE_URL", "mysql://x"),
            ("LOG_FORMAT", "xml"),
            ("MAX_BODY_BYTES", "0"),
            ("MAX_BULK_BODY_BYTES", "67108865"),
            ("HOST", "nowhere"),
        ] {
            let e = Settings::from_vars(vars(&[(k, v)])).expect_err("invalid");
            assert_eq!(e.variable, k);
            assert!(e.to_string().starts_with(&format!("invalid {k}=")));
        }
    }

    #[test]
    fn production_settings() {
        let s = Settings::from_vars(vars(&[
            ("API_KEY", "old-key-0123456789, new-key-0123456789"),
            ("RATE_LIMIT", "0"),
            ("TRUST_PROXY", "true"),
            ("ORDER_TTL", "15m"),
            ("IDEMPOTENCY_TTL", "2h"),
            ("WEBHOOK_SCHEME", "stripe"),
        ]))
        .expect("valid");
        assert_eq!(s.api_keys, vec!["old-key-0123456789", "new-key-0123456789"]);
        assert_eq!((s.rate_limit, s.trust_proxy), (0, true));
        assert_eq!(s.order_ttl, Some(std::time::Duration::from_secs(900)));
        assert_eq!(s.idempotency_ttl, std::time::Duration::from_secs(7200));
        assert_eq!(
            s.webhook_scheme,
            inventory_core::webhook::WebhookScheme::Stripe
        );
        assert!(
            !format!("{s:?}").contains("old-key"),
            "keys must not be logged"
        );
        let e = Settings::from_vars(vars(&[("API_KEY", "short")])).expect_err("too short");
        assert!(!e.to_string().contains("short\""), "{e}");
        assert_eq!(
            Settings::from_vars(vars(&[("ORDER_TTL", "15x")]))
                .expect_err("bad")
                .variable,
            "ORDER_TTL"
        );
        assert_eq!(
            Settings::from_vars(HashMap::new())
                .expect("defaults")
                .rate_limit,
            100
        );
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            database_kind("sqlite:///tmp/a.db"),
            Ok(DatabaseKind::Sqlite("/tmp/a.db".into()))
        );
        assert_eq!(
            database_kind("postgresql://u@h/db"),
            Ok(DatabaseKind::Postgres)
        );
        assert!(database_kind("sqlite://").is_err());
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        let s = Settings::from_vars(vars(&[
            ("DATABASE_URL", "postgres://u:pw@h/db"),
            ("WEBHOOK_SECRET", "s"),
        ]));
        let dbg = format!("{:?}", s.expect("valid"));
        assert!(!dbg.contains("pw") && !dbg.contains("\"s\""), "{dbg}");
    }

    #[test]
    fn an_invalid_database_url_is_not_printed() {
        let e = Settings::from_vars(vars(&[("DATABASE_URL", "mysql://u@h/x?password=pw")]))
            .expect_err("invalid");
        assert!(!e.to_string().contains("pw"), "{e}");
    }

    #[test]
    fn webhook_secrets_are_split_on_commas_and_never_trimmed() {
        assert_eq!(webhook_secrets("one").ok(), Some(vec!["one"]));
        assert_eq!(webhook_secrets("a b,c=d").ok(), Some(vec!["a b", "c=d"]));
        for bad in [" a", "a ", "a,,b", "a, b", "a,", ",", "\ta"] {
            assert!(webhook_secrets(bad).is_err(), "{bad:?}");
        }
        let e =
            Settings::from_vars(vars(&[("WEBHOOK_SECRET", "s3cret, other")])).expect_err("padded");
        assert_eq!(e.variable, "WEBHOOK_SECRET");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn connection_limits() {
        let s = Settings::from_vars(HashMap::new()).expect("defaults");
        assert_eq!(s.header_read_timeout, std::time::Duration::from_secs(10));
        assert_eq!(s.idle_timeout, std::time::Duration::from_secs(75));
        assert_eq!(s.body_read_timeout, std::time::Duration::from_secs(30));
        assert_eq!(s.max_connections, 1024);
        let s = Settings::from_vars(vars(&[
            ("HEADER_READ_TIMEOUT", "5s"),
            ("IDLE_TIMEOUT", "2m"),
            ("BODY_READ_TIMEOUT", "1m"),
            ("MAX_CONNECTIONS", "64"),
        ]))
        .expect("valid");
        assert_eq!(s.header_read_timeout, std::time::Duration::from_secs(5));
        assert_eq!(s.idle_timeout, std::time::Duration::from_secs(120));
        assert_eq!(s.body_read_timeout, std::time::Duration::from_secs(60));
        assert_eq!(s.max_connections, 64);
        for (k, v) in [
            ("HEADER_READ_TIMEOUT", "0"),
            ("IDLE_TIMEOUT", "soon"),
            ("BODY_READ_TIMEOUT", "-1s"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "lots"),
        ] {
            let e = Settings::from_vars(vars(&[(k, v)])).expect_err("invalid");
            assert_eq!(e.variable, k);
        }
    }
}
