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
    /// `LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `DATABASE_POOL_SIZE`: connections to PostgreSQL, or SQLite readers (default 8).
    pub pool_size: usize,
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
            .field("log_format", &self.log_format)
            .field("pool_size", &self.pool_size)
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

/// The database a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    /// An SQLite file at this path.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL server.
    Postgres,
}

/// Reads which database a `DATABASE_URL` names.
pub fn database_kind(url: &str) -> Result<DatabaseKind, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DatabaseKind::Postgres);
    }
    if let Some(rest) = url.strip_prefix("sqlite://") {
        // `sqlite://file.db` is relative to the working directory; `sqlite:///abs.db` absolute.
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() {
            return Err("an SQLite URL needs a file path, e.g. sqlite://inventory.db".into());
        }
        return Ok(DatabaseKind::Sqlite(path.into()));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        if !path.is_empty() {
            return Ok(DatabaseKind::Sqlite(path.into()));
        }
    }
    Err("expected a sqlite://, postgres:// or postgresql:// URL".into())
}

/// Hides the password of a URL (`postgres://user:secret@host` → `postgres://user:***@host`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Settings {
    /// Every environment variable the server reads (`RUST_LOG` is read by the log filter).
    pub const VARIABLES: &'static [&'static str] = &[
        "HOST",
        "PORT",
        "DATABASE_URL",
        "WEBHOOK_SECRET",
        "MAX_BODY_BYTES",
        "LOG_FORMAT",
        "DATABASE_POOL_SIZE",
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
            log_format: LogFormat::Pretty,
            pool_size: 8,
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
        // The secret is used byte for byte: do not trim it.
        s.webhook_secret = vars
            .get("WEBHOOK_SECRET")
            .filter(|v| !v.is_empty())
            .cloned();
        if let Some(v) = get("MAX_BODY_BYTES") {
            s.max_body_bytes = v
                .parse()
                .ok()
                .filter(|n| (1..=64 * 1024 * 1024).contains(n))
                .ok_or_else(|| invalid("MAX_BODY_BYTES", v, "expected bytes, 1 to 67108864"))?;
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
        Ok(s)
    }
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
            ("HOST", "nowhere"),
        ] {
            let e = Settings::from_vars(vars(&[(k, v)])).expect_err("invalid");
            assert_eq!(e.variable, k);
            assert!(e.to_string().starts_with(&format!("invalid {k}=")));
        }
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
}
