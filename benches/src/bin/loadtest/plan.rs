//! The load test's plans: `all` (every figure and target of issue 8), `smoke` (a few seconds,
//! for CI) and `run` (one scenario, for profiling).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use inventory_benches::PgDatabase;

use crate::child::{Server, cpu_seconds};
use crate::report::{
    Check, RunResult, load_average, measured_window, print_checks, print_run, summarize,
};
use crate::scenarios::{Kind, attack, set_seeded};
use crate::{pgbench, seed};

/// Products seeded before the run (the list request returns the first 100).
const SEED_PRODUCTS: usize = 100;
/// Orders seeded for "get a random order".
const SEED_ORDERS: usize = 500;

/// What every plan is told.
#[derive(Debug, Clone)]
pub struct Options {
    /// PostgreSQL (a fresh database on `TEST_DATABASE_URL`'s server) instead of an SQLite file.
    pub postgres: bool,
    /// Seconds measured per attack.
    pub run_time: u64,
    /// The user counts of the per-endpoint and mix attacks.
    pub users: Vec<usize>,
    /// Users of the `POST /orders` attack.
    pub orders_users: usize,
    /// Users and seconds of the long mix run.
    pub soak_users: usize,
    /// See `soak_users`.
    pub soak_time: u64,
    /// The paced long run's longest pause after a request, ms.
    pub soak_wait_ms: u64,
    /// `run`: each user's longest pause after a request, ms (none by default).
    pub wait_ms: Option<u64>,
    /// The server executable, if not next to this one.
    pub server: Option<PathBuf>,
    /// Extra environment for the server.
    pub server_env: Vec<(String, String)>,
    /// Where to write every result as JSON.
    pub json: Option<PathBuf>,
    /// Where to write a `perf record` of the server per attack.
    pub profile: Option<PathBuf>,
    /// Scrape the server's `/metrics` every this many seconds during each attack, as
    /// Prometheus would (off by default: the server must not depend on being scraped).
    pub scrape_metrics: Option<u64>,
}

/// The servers of one plan, on a fresh database.
pub struct Env {
    backend: &'static str,
    server: Server,
    baseline: Option<Server>,
    profile: Option<PathBuf>,
    scrape_metrics: Option<u64>,
    /// What started the server, to start a second instance on the same database.
    exe: PathBuf,
    url: String,
    server_env: Vec<(String, String)>,
    seeded_products: Vec<i64>,
    // Dropped after the servers (fields drop in order): the database outlives its server.
    _pg: Option<PgDatabase>,
    dir: tempfile::TempDir,
}

impl Env {
    /// Starts the server (and the baseline), waits for both, seeds.
    pub async fn start(opts: &Options, with_baseline: bool) -> Result<Env, String> {
        let exe = crate::child::server_executable(opts.server.as_deref())?;
        let dir = tempfile::Builder::new()
            .prefix("loadtest-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let (backend, url, pg) = if opts.postgres {
            let db = PgDatabase::create_named("inv_load").await?;
            ("postgres", db.url.clone(), Some(db))
        } else {
            (
                "sqlite",
                format!("sqlite://{}", dir.path().join("inventory.db").display()),
                None,
            )
        };
        println!(
            "server: {} ({backend}, synchronous=FULL and group commit by default)",
            exe.display()
        );
        let mut server = Server::start_inventory(&exe, &url, dir.path(), &opts.server_env)?;
        let waited = server.wait_ready("/health").await?;
        println!(
            "  pid {}, healthy after {:.2} s at {}",
            server.pid(),
            waited.as_secs_f64(),
            server.base
        );
        let baseline = if with_baseline {
            let mut b = Server::start_baseline(dir.path())?;
            b.wait_ready("/product").await?;
            println!("baseline: bare warp, pid {} at {}", b.pid(), b.base);
            Some(b)
        } else {
            None
        };
        let seeded = seed::seed(&server.base, SEED_PRODUCTS, SEED_ORDERS).await?;
        println!(
            "seeded {} products and {} orders",
            seeded.products.len(),
            seeded.orders.len()
        );
        let seeded_products = seeded.products.clone();
        set_seeded(seeded);
        Ok(Env {
            backend,
            server,
            baseline,
            profile: opts.profile.clone(),
            scrape_metrics: opts.scrape_metrics,
            exe,
            url,
            server_env: opts.server_env.clone(),
            seeded_products,
            _pg: pg,
            dir,
        })
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The server under test.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The seeded products' ids, in creation order.
    pub fn seeded_products(&self) -> &[i64] {
        &self.seeded_products
    }

    /// The plan's temporary directory (logs, scripts).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts another `inventory-server` on the same database (PostgreSQL: many instances,
    /// one database) and waits for it.
    pub async fn second_instance(&self) -> Result<Server, String> {
        let workdir = self.dir.path().join("second");
        std::fs::create_dir_all(&workdir).map_err(|e| format!("{}: {e}", workdir.display()))?;
        let mut server = Server::start_inventory(&self.exe, &self.url, &workdir, &self.server_env)?;
        server.wait_ready("/health").await?;
        Ok(server)
    }

    /// Runs one attack on the server (or the baseline) and prints its table.
    pub async fn measure(
        &mut self,
        kind: Kind,
        users: usize,
        seconds: u64,
    ) -> Result<RunResult, String> {
        self.measure_paced(kind, users, seconds, None).await
    }

    /// [`measure`](Self::measure), each user pausing 0..=`max_wait_ms` after each request.
    pub async fn measure_paced(
        &mut self,
        kind: Kind,
        users: usize,
        seconds: u64,
        max_wait_ms: Option<u64>,
    ) -> Result<RunResult, String> {
        let backend = self.backend;
        let (target, name) = if kind.is_baseline() {
            (
                self.baseline
                    .as_mut()
                    .ok_or("no baseline server in this plan")?,
                "baseline",
            )
        } else {
            (&mut self.server, backend)
        };
        target.reset_peak();
        let perf = match &self.profile {
            Some(dir) => Some(Perf::start(
                target.pid(),
                &dir.join(format!("{name}-{}-{users}.perf.data", kind.label())),
            )?),
            None => None,
        };
        let load = load_average();
        let sampler = CpuSampler::start(target.pid());
        let scraper = self
            .scrape_metrics
            .filter(|_| !kind.is_baseline())
            .map(|every| {
                let url = format!("{}/metrics", target.base);
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    loop {
                        tokio::time::sleep(Duration::from_secs(every.max(1))).await;
                        if let Ok(r) = client.get(&url).send().await {
                            let _ = r.bytes().await;
                        }
                    }
                })
            });
        let metrics = attack(&target.base, kind, users, seconds, max_wait_ms).await;
        let samples = sampler.stop().await;
        if let Some(scraper) = scraper {
            scraper.abort();
        }
        if let Some(perf) = perf {
            perf.stop();
        }
        let metrics = metrics?;
        let mut result = summarize(kind, name, users, max_wait_ms, load, &metrics);
        result.memory = target.memory();
        if let Some((start, end)) = measured_window(&metrics)
            && let Some((server, client)) = cpu_in_window(&samples, start, end)
        {
            result.server_cores = Some(server);
            result.client_cores = Some(client);
            result.server_us_per_request =
                Some(server * 1e6 / result.total.rps.max(f64::MIN_POSITIVE));
        }
        print_run(&result);
        if !target.running() {
            return Err(format!(
                "{} died during the run; its log:\n{}",
                target.name,
                target.log_tail()
            ));
        }
        Ok(result)
    }

    /// Stops both servers with SIGTERM; an unclean exit is an error.
    pub fn stop(mut self) -> Result<(), String> {
        if let Some(b) = self.baseline.take() {
            b.stop()?;
        }
        let tail = self.server.log_tail();
        let Env { server, .. } = self;
        let status = server.stop()?;
        if status.success() {
            println!("server stopped cleanly on SIGTERM");
            Ok(())
        } else {
            Err(format!(
                "the server exited with {status} after SIGTERM; its log:\n{tail}"
            ))
        }
    }
}

/// (wall clock, server CPU s, load generator CPU s), every 100 ms.
type Sample = (SystemTime, f64, f64);

/// Samples the CPU time of the server and of this process while an attack runs.
struct CpuSampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl CpuSampler {
    fn start(pid: u32) -> CpuSampler {
        let me = std::process::id();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                if let (Some(server), Some(client)) = (cpu_seconds(pid), cpu_seconds(me)) {
                    samples.push((SystemTime::now(), server, client));
                }
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => return samples,
                }
            }
        });
        CpuSampler { stop, task }
    }

    async fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

/// Cores used by the server and the load generator between the first sample at or after
/// `start` and the last at or before `end`.
fn cpu_in_window(samples: &[Sample], start: SystemTime, end: SystemTime) -> Option<(f64, f64)> {
    let first = samples.iter().find(|s| s.0 >= start)?;
    let last = samples.iter().rev().find(|s| s.0 <= end)?;
    let wall = last.0.duration_since(first.0).ok()?.as_secs_f64();
    (wall > 0.5).then(|| ((last.1 - first.1) / wall, (last.2 - first.2) / wall))
}

/// A `perf record` of one process for the length of an attack.
struct Perf(std::process::Child);

impl Perf {
    fn start(pid: u32, output: &Path) -> Result<Perf, String> {
        let child = Command::new("perf")
            // DWARF call graphs: release builds keep no frame pointers.
            .args([
                "record",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
                "-p",
                &pid.to_string(),
                "-o",
            ])
            .arg(output)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("perf record: {e}"))?;
        println!("  profiling pid {pid} into {}", output.display());
        Ok(Perf(child))
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn rps_of(r: &RunResult, request: &str) -> f64 {
    r.rows
        .iter()
        .find(|s| s.name == request)
        .map_or(0.0, |s| s.rps)
}

fn ratio_check(what: String, ours: &RunResult, request: &str, base: &RunResult, min: f64) -> Check {
    let (o, b) = (rps_of(ours, request), base.total.rps);
    let ratio = if b > 0.0 { o / b } else { 0.0 };
    Check {
        what,
        measured: format!("{o:.0} req/s"),
        against: format!("bare warp {b:.0} req/s"),
        ratio: Some(ratio),
        target: format!(">= {min:.2}"),
        met: ratio >= min,
    }
}

/// The same comparison by server CPU per request: what the ratio of requests/s would be if
/// the server, not the load generator sharing its cores, were the bottleneck.
fn cpu_check(what: String, ours: &RunResult, base: &RunResult, min: f64) -> Check {
    let (o, b) = (
        ours.server_us_per_request.unwrap_or(f64::NAN),
        base.server_us_per_request.unwrap_or(f64::NAN),
    );
    let ratio = b / o;
    Check {
        what,
        measured: format!("{o:.1} µs/req"),
        against: format!("bare warp {b:.1} µs/req"),
        ratio: Some(ratio),
        target: format!(">= {min:.2}"),
        met: ratio >= min,
    }
}

fn print_header(opts: &Options, plan: &str) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "loadtest {plan}: {} backend, {} s per attack, users {:?}, {cores} cores, load average {:.2}",
        if opts.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        opts.run_time,
        opts.users,
        load_average()
    );
}

/// Every figure and target: per-endpoint pairs against the baseline, the seed's mix, orders
/// at `orders_users`, pgbench (PostgreSQL), and the long run at `soak_users`.
pub async fn all(opts: &Options) -> Result<(), String> {
    print_header(opts, "all");
    let mut env = Env::start(opts, true).await?;
    let mut results = Vec::new();
    let mut checks = Vec::new();
    let backend = env.backend;
    for &users in &opts.users {
        // Each pair back to back, baseline first, so both see the same machine.
        let bare = env.measure(Kind::BaselineGet, users, opts.run_time).await?;
        let ours = env.measure(Kind::Get, users, opts.run_time).await?;
        checks.push(ratio_check(
            format!("GET /products/{{id}}, {users} users"),
            &ours,
            "GET /products/{id}",
            &bare,
            0.50,
        ));
        checks.push(cpu_check(
            "  same, by server CPU per request".into(),
            &ours,
            &bare,
            0.50,
        ));
        results.extend([bare, ours]);
        let bare = env
            .measure(Kind::BaselineList, users, opts.run_time)
            .await?;
        let ours = env.measure(Kind::List, users, opts.run_time).await?;
        checks.push(ratio_check(
            format!("GET /products?limit=100, {users} users"),
            &ours,
            "GET /products?limit=100",
            &bare,
            0.40,
        ));
        checks.push(cpu_check(
            "  same, by server CPU per request".into(),
            &ours,
            &bare,
            0.40,
        ));
        results.extend([bare, ours]);
        results.push(env.measure(Kind::Mix, users, opts.run_time).await?);
    }
    let pg = if opts.postgres {
        let pg = pgbench::measure(opts.run_time).await?;
        println!(
            "\n--- pgbench on the same PostgreSQL server ---\n  {}\n  tps = {:.0} (-N); with -S (one primary-key SELECT per transaction): {:.0}",
            pg.command, pg.tps, pg.select_tps
        );
        Some(pg)
    } else {
        None
    };
    let orders = env
        .measure(Kind::Orders, opts.orders_users, opts.run_time)
        .await?;
    let placed = rps_of(&orders, "POST /orders");
    checks.push(match &pg {
        Some(pg) => Check {
            what: format!("POST /orders, {} users (PostgreSQL)", opts.orders_users),
            measured: format!("{placed:.0} req/s"),
            against: format!("pgbench -N -c 16 {:.0} tps", pg.tps),
            ratio: Some(placed / pg.tps),
            target: ">= 1.00".into(),
            met: placed >= pg.tps,
        },
        None => Check {
            what: format!("POST /orders, {} users (SQLite FULL)", opts.orders_users),
            measured: format!("{placed:.0} req/s"),
            against: "-".into(),
            ratio: None,
            target: ">= 20000/s".into(),
            met: placed >= 20_000.0,
        },
    });
    checks.push(Check {
        what: format!("POST /orders, {} users: errors", opts.orders_users),
        measured: orders.total.failures.to_string(),
        against: "-".into(),
        ratio: None,
        target: "0".into(),
        met: orders.total.failures == 0,
    });
    results.push(orders);
    // The long run twice: paced (each user pauses 0..soak_wait_ms after each request, a load
    // below saturation), then closed-loop with no pause (saturated: there, by Little's law,
    // mean latency = users / throughput, whatever the server does).
    let users = opts.soak_users;
    for wait in [Some(opts.soak_wait_ms), None] {
        let soak = env
            .measure_paced(Kind::Mix, users, opts.soak_time, wait)
            .await?;
        let pace = wait.map_or_else(|| "no wait".to_owned(), |ms| format!("wait 0-{ms} ms"));
        checks.push(Check {
            what: format!("mix, {users} users, {pace}, {} s: errors", opts.soak_time),
            measured: format!("{} of {}", soak.total.failures, soak.total.requests),
            against: format!("{:.0} req/s", soak.total.rps),
            ratio: None,
            target: "0".into(),
            met: soak.total.failures == 0 && soak.total.requests > 0,
        });
        let read_p99 = soak.reads.as_ref().map_or(f64::NAN, |r| r.p99_ms);
        let little = users as f64 / soak.total.rps.max(f64::MIN_POSITIVE) * 1000.0;
        checks.push(Check {
            what: "  same: read p99".into(),
            measured: format!("{read_p99:.1} ms"),
            against: match wait {
                None => format!("users/throughput {little:.0} ms"),
                Some(_) => "-".into(),
            },
            ratio: None,
            target: "< 50 ms".into(),
            met: read_p99 < 50.0,
        });
        let peak = soak.memory.map_or(f64::NAN, |m| m.peak_kib as f64 / 1024.0);
        checks.push(Check {
            what: "  same: server peak RSS".into(),
            measured: format!("{peak:.1} MiB"),
            against: "-".into(),
            ratio: None,
            target: "< 64 MiB".into(),
            met: peak < 64.0,
        });
        results.push(soak);
    }
    env.stop()?;
    print_checks(&format!("targets of issue 8 ({backend})"), &checks);
    if let Some(path) = &opts.json {
        let doc = serde_json::json!({ "backend": backend, "runs": results, "checks": checks, "pgbench": pg });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("results written to {}", path.display());
    }
    Ok(())
}

/// A few seconds with few users, for CI: fails on a server that does not start, an attack
/// that made no request, any failed request (5xx, unexpected 4xx, no answer), or an unclean
/// stop.
pub async fn smoke(opts: &Options) -> Result<(), String> {
    print_header(opts, "smoke");
    let mut env = Env::start(opts, true).await?;
    let users = opts.users.first().copied().unwrap_or(4);
    let runs = [
        env.measure(Kind::BaselineGet, users, opts.run_time.min(2))
            .await?,
        env.measure(Kind::Mix, users, opts.run_time).await?,
    ];
    env.stop()?;
    for r in &runs {
        if r.total.requests == 0 {
            return Err(format!(
                "{} on {} made no request",
                r.kind.label(),
                r.target
            ));
        }
        if r.total.failures > 0 {
            return Err(format!(
                "{} on {}: {} of {} requests failed ({} server errors): {:?}",
                r.kind.label(),
                r.target,
                r.total.failures,
                r.total.requests,
                r.total.server_errors,
                r.errors
            ));
        }
        // Every request type of the mix was exercised.
        if r.kind == Kind::Mix && r.rows.len() < 5 {
            return Err(format!(
                "mix exercised only {} request types: {:?}",
                r.rows.len(),
                r.rows
            ));
        }
    }
    println!(
        "\nsmoke: 2 runs, {} requests, 0 failed",
        runs.iter().map(|r| r.total.requests).sum::<usize>()
    );
    Ok(())
}

/// One scenario at each of `users` (for profiling with `--profile`).
pub async fn one(opts: &Options, kind: Kind) -> Result<(), String> {
    print_header(opts, kind.label());
    let mut env = Env::start(opts, kind.is_baseline()).await?;
    let mut results = Vec::new();
    for &users in &opts.users {
        results.push(
            env.measure_paced(kind, users, opts.run_time, opts.wait_ms)
                .await?,
        );
    }
    env.stop()?;
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
