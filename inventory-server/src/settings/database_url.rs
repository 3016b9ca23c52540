//! `DATABASE_URL`: which database it names, and the same URL with every secret hidden.

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
    if let Some(path) = url.strip_prefix("sqlite:")
        && !path.is_empty()
    {
        return Ok(DatabaseKind::Sqlite(path.into()));
    }
    Err("expected a sqlite://, postgres:// or postgresql:// URL".into())
}

/// Whether a connection parameter's name says it holds a secret (`password`, `passfile`,
/// `sslpassword`, any `...pass...`, `...secret...` or `...token...`), case-insensitively.
fn is_secret_parameter(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    ["pass", "secret", "token"].iter().any(|w| name.contains(w))
}

/// Hides every secret in a database URL or connection string, for logs and error messages:
/// the password of `scheme://user:password@host` and the value of every `key=value`
/// parameter named like a secret (see `is_secret_parameter`), in a URL's query
/// (`?password=...`, percent-encoded names too) or in a libpq `key=value` string.
///
/// The userinfo ends at the first `@`, as tokio-postgres reads it.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_key_values(url);
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let mut out = String::from(scheme);
    let rest = match rest.split_once('@') {
        Some((userinfo, after)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***@")),
                None => out.push_str(&format!("{userinfo}@")),
            }
            after
        }
        None => rest,
    };
    let Some((base, query)) = rest.split_once('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(base);
    out.push('?');
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_parameter(&percent_decoded(key)) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    out.push_str(&pairs.join("&"));
    out
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// `host=db password='s e c' user=u` → `host=db password=*** user=u`: libpq's format, where a
/// value runs to the next space unless it is single-quoted (with `\'` escapes).
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let (before, after) = rest.split_at(eq);
        out.push_str(before);
        out.push('=');
        let name = before
            .rsplit(|c: char| c.is_whitespace())
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        let value = after[1..].trim_start();
        let skipped = after.len() - 1 - value.len();
        let end = value_end(value);
        if is_secret_parameter(name) {
            out.push_str(&after[1..1 + skipped]);
            out.push_str("***");
        } else {
            out.push_str(&after[1..1 + skipped + end]);
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Where a libpq value starting `value` ends (byte index).
fn value_end(value: &str) -> usize {
    if let Some(quoted) = value.strip_prefix('\'') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '\'' if !escaped => return i + 2,
                _ => escaped = false,
            }
        }
        value.len()
    } else {
        value.find(char::is_whitespace).unwrap_or(value.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_of_a_database_url_is_redacted() {
        for (url, redacted) in [
            (
                "postgres://u@h/db?password=pw&sslmode=require",
                "postgres://u@h/db?password=***&sslmode=require",
            ),
            (
                "postgresql://h/db?sslmode=require&PASSWORD=pw",
                "postgresql://h/db?sslmode=require&PASSWORD=***",
            ),
            (
                "postgres://u:pw1@h/db?sslpassword=pw2&passfile=/x/.pgpass&application_name=a",
                "postgres://u:***@h/db?sslpassword=***&passfile=***&application_name=a",
            ),
            // A percent-encoded name is still the parameter tokio-postgres reads.
            (
                "postgres://h/db?pass%77ord=pw",
                "postgres://h/db?pass%77ord=***",
            ),
            // An `@` in the query: the userinfo ends at the first one, as tokio-postgres reads.
            (
                "postgres://u@h/db?password=a@b",
                "postgres://u@h/db?password=***",
            ),
            ("sqlite://inventory.db", "sqlite://inventory.db"),
            (
                "host=db user=u password=pw dbname=x",
                "host=db user=u password=*** dbname=x",
            ),
            (
                "host=db password = 'p w\\' x' sslpassword=k port=5432",
                "host=db password = *** sslpassword=*** port=5432",
            ),
        ] {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }
}
