//! PostgreSQL's own yardstick, on the same server in the same run: `pgbench -N` (the simple
//! update transaction: UPDATE an account, SELECT it, INSERT a history row) on a scratch
//! database, 16 clients on 2 threads.

use std::path::PathBuf;
use std::process::Command;

use inventory_benches::PgDatabase;
use serde::Serialize;

/// What pgbench measured.
#[derive(Debug, Clone, Serialize)]
pub struct Pgbench {
    /// `-N` transactions per second (without initial connection time).
    pub tps: f64,
    /// `-S` (one primary-key SELECT) transactions per second, for the reads.
    pub select_tps: f64,
    /// Clients.
    pub clients: u32,
    /// Seconds.
    pub seconds: u64,
    /// The command, for the record.
    pub command: String,
}

/// `pgbench` on `PATH`, else the newest under `/usr/lib/postgresql/*/bin` (Debian's
/// postgresql-client puts it there and not always on `PATH`).
pub fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pgbench");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin/pgbench");
            bin.is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

fn run(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| format!("{shown}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{shown} failed ({}):\n{text}", output.status))
    }
}

/// `pgbench -i` on a fresh scratch database, then `pgbench -N -c 16 -j 2 -T <seconds>`; the
/// database is dropped afterwards.
pub async fn measure(seconds: u64) -> Result<Pgbench, String> {
    let exe = find().ok_or("pgbench not found (install postgresql-client)")?;
    let db = PgDatabase::create_named("inv_pgbench").await?;
    let url = db.url.clone();
    let exe2 = exe.clone();
    let (text, select_text, command) = tokio::task::spawn_blocking(move || {
        run(Command::new(&exe2).args(["-i", "-q", &url]))?;
        let args = [
            "-N",
            "-c",
            "16",
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-n",
            &url,
        ]
        .map(str::to_owned);
        let command = format!("{} {}", exe2.display(), args.join(" "));
        let text = run(Command::new(&exe2).args(&args))?;
        let select = [
            "-S",
            "-c",
            "16",
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-n",
            &url,
        ];
        let select_text = run(Command::new(&exe2).args(select))?;
        Ok::<_, String>((text, select_text, command))
    })
    .await
    .map_err(|e| format!("pgbench task: {e}"))??;
    drop(db);
    let tps = parse_tps(&text)?;
    let select_tps = parse_tps(&select_text)?;
    Ok(Pgbench {
        tps,
        select_tps,
        clients: 16,
        seconds,
        command,
    })
}

fn parse_tps(text: &str) -> Result<f64, String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("no `tps = ` line in pgbench's output:\n{text}"))
}

/// What the hot-row pgbench measured.
#[derive(Debug, Clone, Serialize)]
pub struct HotRow {
    /// Transactions (orders) per second, without initial connection time.
    pub tps: f64,
    /// The command, for the record.
    pub command: String,
}

/// The hot-SKU yardstick: what this PostgreSQL does when every transaction takes a unit of the
/// same row and records an order, one transaction per order, as a store without batching must
/// (`pgbench -f`, 16 clients on 2 threads, on a scratch database dropped afterwards).
pub async fn hot_row(seconds: u64) -> Result<HotRow, String> {
    let exe = find().ok_or("pgbench not found (install postgresql-client)")?;
    let db = PgDatabase::create_named("inv_hotrow").await?;
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect to {}: {e}", db.name))?;
    let conn = tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE TABLE hot (id int PRIMARY KEY, stock bigint NOT NULL CHECK (stock >= 0));
             INSERT INTO hot VALUES (1, 1000000000);
             CREATE TABLE hot_orders (id bigserial PRIMARY KEY, product_id int NOT NULL,
                                      quantity int NOT NULL, created_at timestamptz DEFAULT now());",
        )
        .await
        .map_err(|e| format!("hot-row tables: {e}"))?;
    drop(client);
    let _ = conn.await;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let script = dir.path().join("hot_row.sql");
    std::fs::write(
        &script,
        "BEGIN;\n\
         UPDATE hot SET stock = stock - 1 WHERE id = 1 AND stock >= 1 RETURNING stock;\n\
         INSERT INTO hot_orders (product_id, quantity) VALUES (1, 1) RETURNING id;\n\
         END;\n",
    )
    .map_err(|e| format!("{}: {e}", script.display()))?;
    let url = db.url.clone();
    let args = [
        "-n".to_owned(),
        "-f".to_owned(),
        script.display().to_string(),
        "-c".to_owned(),
        "16".to_owned(),
        "-j".to_owned(),
        "2".to_owned(),
        "-T".to_owned(),
        seconds.to_string(),
        url,
    ];
    let command = format!("{} {}", exe.display(), args.join(" "));
    let text = tokio::task::spawn_blocking(move || run(Command::new(&exe).args(&args)))
        .await
        .map_err(|e| format!("pgbench task: {e}"))??;
    drop(db);
    Ok(HotRow {
        tps: parse_tps(&text)?,
        command,
    })
}
