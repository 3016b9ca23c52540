//! Opening connections: refusing files that are not ours, connection settings, migrations.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rusqlite::ffi::ErrorCode;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::SqliteError;
use crate::options::SqliteOptions;

mod embedded {
    // Expands to `pub mod migrations { pub fn runner() -> refinery::Runner }` over the files of
    // `migrations/`, compiled into the binary so a deployment needs no SQL files beside it.
    refinery::embed_migrations!("migrations");
}

/// refinery's bookkeeping table (its default name).
const HISTORY_TABLE: &str = "refinery_schema_history";

/// How many prepared statements each connection keeps (the store uses fewer than this).
const STATEMENT_CACHE: usize = 64;

/// Which database a store opens.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A file, shared by the writer and the readers.
    File(PathBuf),
    /// A private in-memory database, visible to the writer's connection only.
    Memory,
}

/// The version of the newest migration compiled into this program.
pub fn latest_schema_version() -> i64 {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0)
}

/// Opens the read-write connection: refuses what is not an SQLite database or has a newer
/// schema *before* changing anything, then sets WAL and the other settings and migrates.
pub(crate) fn open_writer(
    target: &Target,
    options: &SqliteOptions,
) -> Result<Connection, SqliteError> {
    // rusqlite and refinery may panic on inputs they consider impossible (refinery unwraps the
    // dates in its history table); a damaged file must give an error, not a dead thread.
    catch_unwind(AssertUnwindSafe(|| open_writer_inner(target, options))).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(SqliteError::Panicked(msg))
    })
}

fn open_writer_inner(target: &Target, options: &SqliteOptions) -> Result<Connection, SqliteError> {
    let mut conn = match target {
        Target::Memory => Connection::open_in_memory()?,
        Target::File(path) => {
            refuse_foreign_file(path)?;
            // No SQLITE_OPEN_URI: a file named "file:..." is a file, not a URI.
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(path, flags).map_err(|e| on_open(path, e))?;
            conn.busy_timeout(options.busy_timeout)?;
            // Reading the schema is the first access to the file: SQLite reports a foreign or
            // damaged file here, before anything is written.
            check_schema_version(&conn, path).map_err(|e| match e {
                SqliteError::Sqlite(e) => on_open(path, e),
                other => other,
            })?;
            conn
        }
    };
    conn.busy_timeout(options.busy_timeout)?;
    if matches!(target, Target::File(_)) {
        // WAL: readers never block the writer nor the writer them, and a commit is one append
        // (plus one sync with synchronous=FULL) instead of a journal dance.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SqliteError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "could not switch to WAL mode (journal_mode is {mode})"
                )),
            )));
        }
    }
    conn.pragma_update(None, "synchronous", options.synchronous.pragma_value())?;
    // Grouped: every pending migration *and* its line in the history commit in one
    // transaction. Ungrouped, refinery commits a migration's SQL and its history line in two
    // transactions, and a crash between them would leave a schema that the next start tries to
    // create again, and cannot. Foreign keys off meanwhile (the pragma is a no-op inside a
    // transaction, so it is set here): a migration may rebuild a table others refer to, the
    // way SQLite documents; every reference is checked once they have run.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    embedded::migrations::runner()
        .set_grouped(true)
        .run(&mut conn)
        .map_err(SqliteError::Migration)?;
    check_foreign_keys(&conn)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    keep_plans(&conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Refuses a database in which a row refers to a row that does not exist (after migrations ran
/// with foreign keys off).
fn check_foreign_keys(conn: &Connection) -> Result<(), SqliteError> {
    let broken: Option<(String, Option<i64>, String)> = conn
        .query_row("PRAGMA foreign_key_check", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match broken {
        None => Ok(()),
        Some((table, rowid, parent)) => Err(SqliteError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some(format!(
                "after migrating: row {rowid:?} of {table} refers to a missing row of {parent}"
            )),
        ))),
    }
}

/// Keeps a cached statement's plan across new bindings. Without the query planner stability
/// guarantee, SQLite re-prepares a statement with `LIMIT ?` at every new binding, which made
/// the statement cache useless for every paged listing (15 % of the server's CPU on
/// `GET /products?limit=100`, measured with perf).
fn keep_plans(conn: &Connection) -> Result<(), SqliteError> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Opens one read-only connection to a database the writer has already opened and migrated.
pub(crate) fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, SqliteError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| on_open(path, e))?;
    conn.busy_timeout(options.busy_timeout)?;
    keep_plans(&conn)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Refuses a non-empty file that does not start with SQLite's magic header, without letting
/// SQLite near it. (An empty file is a valid empty database to SQLite, with nothing to lose.)
fn refuse_foreign_file(path: &Path) -> Result<(), SqliteError> {
    let Ok(mut file) = std::fs::File::open(path) else {
        // Missing (to be created) or unreadable: SQLite's open reports the latter precisely.
        return Ok(());
    };
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Ok(()); // SQLite's open fails on it with CANTOPEN.
    }
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(()),
        }
    }
    if read == 0 || header == *b"SQLite format 3\0" {
        Ok(())
    } else {
        Err(SqliteError::NotADatabase {
            path: path.to_owned(),
        })
    }
}

/// Reads refinery's history, if any, and refuses a schema newer than this program's, or a
/// database with tables but no history (another application's, not ours to change).
fn check_schema_version(conn: &Connection, path: &Path) -> Result<(), SqliteError> {
    let has_history: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [HISTORY_TABLE],
        |r| r.get(0),
    )?;
    if !has_history {
        // refinery creates its history table before any migration, and (grouped) records the
        // migrations in their own transaction: tables without a history are not ours.
        let table: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                 ORDER BY name LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        return match table {
            Some(table) => Err(SqliteError::ForeignDatabase {
                path: path.to_owned(),
                table,
            }),
            None => Ok(()),
        };
    }
    let found: Option<i64> = conn
        .query_row(
            &format!("SELECT max(version) FROM {HISTORY_TABLE}"),
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let supported = latest_schema_version();
    match found {
        Some(found) if found > supported => Err(SqliteError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported,
        }),
        _ => Ok(()),
    }
}

/// Names the failure of opening `path` precisely.
fn on_open(path: &Path, e: rusqlite::Error) -> SqliteError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => SqliteError::NotADatabase {
            path: path.to_owned(),
        },
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            SqliteError::CannotOpen {
                path: path.to_owned(),
                source: e,
            }
        }
        _ => SqliteError::Sqlite(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Synchronous;

    fn pragma(conn: &Connection, name: &str) -> String {
        conn.query_row(&format!("SELECT * FROM pragma_{name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(s) => s,
            other => format!("{other:?}"),
        })
        .expect("pragma")
    }

    #[test]
    fn connection_settings_follow_the_options() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db");
        let target = Target::File(path.clone());
        let conn = open_writer(&target, &SqliteOptions::default()).expect("open");
        // synchronous: 2 = FULL, 1 = NORMAL.
        let expected = [
            ("journal_mode", "wal"),
            ("foreign_keys", "1"),
            ("synchronous", "2"),
        ];
        for (name, value) in expected {
            assert_eq!(pragma(&conn, name), value, "{name}");
        }
        assert_eq!(pragma(&conn, "busy_timeout"), "5000");
        drop(conn);

        let options = SqliteOptions::default()
            .synchronous(Synchronous::Normal)
            .busy_timeout(std::time::Duration::from_millis(250));
        let conn = open_writer(&target, &options).expect("reopen");
        assert_eq!(pragma(&conn, "synchronous"), "1");
        assert_eq!(pragma(&conn, "busy_timeout"), "250");

        let reader = open_reader(&path, &options).expect("reader");
        let e = reader
            .execute_batch("DELETE FROM products")
            .expect_err("read-only");
        assert_eq!(e.sqlite_error_code(), Some(ErrorCode::ReadOnly));
    }

    #[test]
    fn the_database_enforces_the_invariants_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open_writer(
            &Target::File(dir.path().join("db")),
            &SqliteOptions::default(),
        )
        .expect("open");
        conn.execute_batch(
            "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
             VALUES ('P', 'Product', 100, 1, 0, 0);
             INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES ('PENDING', 100, 0, 0);
             INSERT INTO order_lines VALUES (1, 0, 1, 1, 100, 100);",
        )
        .expect("a valid product and order");
        let refused = [
            "UPDATE products SET stock = -1",
            "UPDATE products SET price_cents = 0",
            "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
             VALUES ('P', 'Again', 100, 1, 0, 0)",
            "INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES ('LOST', 1, 0, 0)",
            "INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES ('PENDING', 0, 0, 0)",
            "INSERT INTO order_lines VALUES (9, 0, 1, 1, 100, 100)",
            "INSERT INTO order_lines VALUES (1, 0, 99, 1, 100, 100)",
            "INSERT INTO order_lines VALUES (1, 0, 1, 0, 100, 0)",
            "INSERT INTO order_lines VALUES (1, 0, 1, 2, 5, 7)",
            "INSERT INTO order_lines VALUES (1, 100, 1, 1, 100, 100)",
            "INSERT INTO order_lines VALUES (1, 0, 1, 1, 100, 100)",
            "UPDATE products SET stock = 'many'",
        ];
        for sql in refused {
            let e = conn.execute_batch(sql).expect_err(sql);
            assert_eq!(
                e.sqlite_error_code(),
                Some(ErrorCode::ConstraintViolation),
                "{sql}: {e}"
            );
        }
        let e = conn
            .execute_batch("DELETE FROM products")
            .expect_err("product has orders");
        assert_eq!(e.sqlite_error_code(), Some(ErrorCode::ConstraintViolation));
    }

    #[test]
    fn the_records_are_checked_by_the_database_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open_writer(
            &Target::File(dir.path().join("db")),
            &SqliteOptions::default(),
        )
        .expect("open");
        conn.execute_batch(
            "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
             VALUES ('P', 'Product', 100, 1, 0, 0), ('Q', 'Other', 100, 1, 0, 0);
             INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES ('PENDING', 100, 0, 0);
             INSERT INTO order_lines VALUES (1, 0, 1, 1, 100, 100);
             INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at)
             VALUES (2, 1, 'initial', 'initial', NULL, 0), (1, -1, 'order_placed', 'x', 1, 0);
             INSERT INTO order_events (order_id, from_status, to_status, source, event_id,
                                       created_at)
             VALUES (1, NULL, 'PENDING', 'api', NULL, 0), (1, 'PENDING', 'PAID', 'webhook', 'e', 0);
             INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at)
             VALUES ('POST /orders', 'k', 'f', 201, x'7b7d', 0);",
        )
        .expect("valid records");
        let movement = "INSERT INTO stock_movements (product_id, delta, kind, reason, order_id,
                                                     created_at) VALUES ";
        let event = "INSERT INTO order_events (order_id, from_status, to_status, source,
                                               event_id, created_at) VALUES ";
        let refused = [
            format!("{movement} (1, 1, 'gift', 'x', NULL, 0)"),
            format!("{movement} (1, -1, 'order_placed', 'x', NULL, 0)"),
            format!("{movement} (1, 1, 'adjustment', 'x', 1, 0)"),
            format!("{movement} (9, 1, 'initial', 'x', NULL, 0)"),
            format!("{movement} (1, 1, 'expired', 'x', 9, 0)"),
            format!("{event} (1, 'PAID', 'SHIPPED', 'webhook', NULL, 0)"),
            format!("{event} (1, 'PAID', 'SHIPPED', 'api', 'e', 0)"),
            format!("{event} (1, 'PAID', 'LOST', 'api', NULL, 0)"),
            format!("{event} (1, 'PAID', 'SHIPPED', 'cron', NULL, 0)"),
            format!("{event} (9, NULL, 'PENDING', 'api', NULL, 0)"),
            "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at)
             VALUES ('POST /orders', 'k', 'g', 201, x'7b7d', 1)"
                .into(),
        ];
        for sql in &refused {
            let e = conn.execute_batch(sql).expect_err(sql);
            assert_eq!(
                e.sqlite_error_code(),
                Some(ErrorCode::ConstraintViolation),
                "{sql}: {e}"
            );
        }
        // A product's ledger goes with it (the store deletes it explicitly as well).
        conn.execute_batch("DELETE FROM products WHERE id = 2")
            .expect("delete");
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM stock_movements WHERE product_id = 2",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 0);
    }

    #[test]
    fn the_levels_and_allocations_are_checked_by_the_database_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = open_writer(
            &Target::File(dir.path().join("db")),
            &SqliteOptions::default(),
        )
        .expect("open");
        conn.execute_batch(
            "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at)
             VALUES ('P', 'Product', 100, 1, 0, 0);
             INSERT INTO locations (code, name, priority) VALUES ('EAST', 'East', 5);
             INSERT INTO stock_levels VALUES (1, 1, 3, 2), (1, 2, 0, 0);
             INSERT INTO orders (status, total_cents, created_at, updated_at)
             VALUES ('PENDING', 200, 0, 0);
             INSERT INTO order_lines VALUES (1, 0, 1, 2, 100, 200);
             INSERT INTO order_allocations VALUES (1, 0, 1, 1), (1, 0, 2, 1);
             INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at,
                                          location_id)
             VALUES (1, 1, 'transfer_in', 'transfer_in', NULL, 0, 2);",
        )
        .expect("valid rows");
        let refused = [
            "INSERT INTO locations (code, name, priority) VALUES ('EAST', 'Again', 0)",
            "INSERT INTO locations (code, name, priority) VALUES ('BIG', 'Big', 1000001)",
            "INSERT INTO locations (code, name, priority) VALUES ('', 'Empty', 0)",
            "UPDATE stock_levels SET committed = 4 WHERE location_id = 1",
            "UPDATE stock_levels SET on_hand = -1 WHERE location_id = 2",
            "INSERT INTO stock_levels VALUES (1, 9, 1, 0)",
            "INSERT INTO stock_levels VALUES (9, 1, 1, 0)",
            "INSERT INTO stock_levels VALUES (1, 1, 5, 0)",
            "INSERT INTO order_allocations VALUES (1, 1, 1, 1)",
            "INSERT INTO order_allocations VALUES (1, 0, 9, 1)",
            "INSERT INTO order_allocations VALUES (1, 0, 1, 1)",
            "UPDATE order_allocations SET quantity = 0",
            "INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at,
                                          location_id)
             VALUES (1, -1, 'transfer_out', 'x', 1, 0, 1)",
            "INSERT INTO stock_movements (product_id, delta, kind, reason, order_id, created_at,
                                          location_id)
             VALUES (1, -1, 'transfer_out', 'x', NULL, 0, 9)",
        ];
        for sql in refused {
            let e = conn.execute_batch(sql).expect_err(sql);
            assert_eq!(
                e.sqlite_error_code(),
                Some(ErrorCode::ConstraintViolation),
                "{sql}: {e}"
            );
        }
        // A product's levels go with it.
        conn.execute_batch(
            "DELETE FROM order_allocations; DELETE FROM order_lines; DELETE FROM products",
        )
        .expect("delete");
        let left: i64 = conn
            .query_row("SELECT count(*) FROM stock_levels", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0);
    }
}
