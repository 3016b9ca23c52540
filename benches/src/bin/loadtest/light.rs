//! The light-client plans of issue 17: `loadtest wrk` (every ratio against bare warp answering
//! the same bytes, the hot SKU against pgbench's one-hot-row rate) and `loadtest flash-sale`.
//! wrk leaves the cores to the servers, so the ratios show the server's own cost.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use crate::child::{Memory, Server};
use crate::flash::{self, FlashSale};
use crate::plan::{Env, Options};
use crate::report::{Check, load_average, print_checks};
use crate::wrk::{self, WrkRun};
use crate::{Target, pgbench};

/// `loadtest wrk`.
#[derive(Args, Clone)]
pub struct WrkOpts {
    #[command(flatten)]
    target: Target,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    run_time: u64,
    /// Baseline/server pairs per read figure (the median ratio is reported).
    #[arg(long, default_value_t = 3)]
    pairs: usize,
    /// wrk connections, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [25, 200])]
    connections: Vec<usize>,
    /// Only the orders (and on PostgreSQL the hot-row yardstick): no read figures.
    #[arg(long)]
    orders_only: bool,
    /// Also write every result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// `loadtest flash-sale`.
#[derive(Args, Clone)]
pub struct FlashOpts {
    #[command(flatten)]
    target: Target,
    /// Buyers, released at once, one order of one unit each.
    #[arg(long, default_value_t = 5000)]
    buyers: usize,
    /// The SKU's stock.
    #[arg(long, default_value_t = 1000)]
    stock: i64,
}

/// What [`Env::start`] needs of the goose plans' options: the target; nothing is attacked by
/// goose, so its run lengths and user counts are unused.
fn plan_options(target: &Target) -> Options {
    Options {
        postgres: target.postgres,
        run_time: 1,
        users: Vec::new(),
        orders_users: 0,
        soak_users: 0,
        soak_time: 0,
        soak_wait_ms: 0,
        wait_ms: None,
        server: target.server.clone(),
        server_env: target.server_env.clone(),
        json: None,
        profile: None,
        scrape_metrics: None,
    }
}

/// One read figure at one connection count: every pair, and the median ratio.
#[derive(Debug, Clone, Serialize)]
struct ReadFigure {
    request: String,
    connections: usize,
    pairs: Vec<(WrkRun, WrkRun)>,
    median_ratio: f64,
}

/// Everything `loadtest wrk` measured, for `--json`.
#[derive(Debug, Clone, Serialize)]
struct Figures {
    backend: &'static str,
    load_before: f64,
    reads: Vec<ReadFigure>,
    orders: Vec<WrkRun>,
    orders_two_instances: Option<(WrkRun, WrkRun)>,
    hot_row: Option<pgbench::HotRow>,
    memory: Option<Memory>,
    load_after: f64,
}

/// A run whose answers were not all 2xx measured something else: an error.
fn clean(run: WrkRun) -> Result<WrkRun, String> {
    if run.non_2xx == 0 && run.socket_errors == 0 && run.requests > 0 {
        Ok(run)
    } else {
        Err(format!(
            "{}: {} requests, {} non-2xx answers, {} socket errors",
            run.command, run.requests, run.non_2xx, run.socket_errors
        ))
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Fetches `url`'s body, expecting 200, into `dir/name`.
async fn save_body(url: &str, dir: &Path, name: &str) -> Result<PathBuf, String> {
    let response = reqwest::get(url)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if response.status() != 200 {
        return Err(format!("GET {url} answered {}", response.status()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let path = dir.join(name);
    std::fs::write(&path, &body).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("  {url}: {} bytes", body.len());
    Ok(path)
}

fn print_run(what: &str, r: &WrkRun) {
    println!(
        "  {what:<34} c{:<4} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        r.connections, r.rps, r.p50_ms, r.p99_ms
    );
}

fn ratio_check(what: String, ratio: f64, min: f64) -> Check {
    Check {
        what,
        measured: format!("{ratio:.2}"),
        against: "bare warp, same bytes".into(),
        ratio: Some(ratio),
        target: format!(">= {min:.2}"),
        met: ratio >= min,
    }
}

/// `loadtest wrk`: the figures and targets of issue 17.
pub async fn figures(opts: &WrkOpts) -> Result<(), String> {
    let load_before = load_average();
    println!(
        "loadtest wrk: {} backend, {} s per run, {} pairs, connections {:?}, load average {load_before:.2}",
        if opts.target.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        opts.run_time,
        opts.pairs,
        opts.connections
    );
    let env = Env::start(&plan_options(&opts.target), false).await?;
    let backend = env.backend();
    let base = env.server().base.clone();
    let first = *env.seeded_products().first().ok_or("nothing was seeded")?;
    let one = save_body(&format!("{base}/products/{first}"), env.dir(), "one.json").await?;
    let list = save_body(
        &format!("{base}/products?limit=100"),
        env.dir(),
        "list.json",
    )
    .await?;
    let mut bare = Server::start_raw_baseline(env.dir(), &one, &list)?;
    bare.wait_ready("/product").await?;
    env.server().reset_peak();

    let t = opts.run_time.max(1);
    let mut checks = Vec::new();
    let mut reads = Vec::new();
    let (get_min, list_min) = if opts.target.postgres {
        (0.40, 0.20)
    } else {
        (0.70, 0.35)
    };
    let read_connections: &[usize] = if opts.orders_only {
        &[]
    } else {
        &opts.connections
    };
    for &c in read_connections {
        let figures = [
            (
                "GET /products/{id}",
                format!("{base}/products/{first}"),
                "/product",
                get_min,
            ),
            (
                "GET /products?limit=100",
                format!("{base}/products?limit=100"),
                "/products",
                list_min,
            ),
        ];
        for (request, ours_url, bare_path, min) in figures {
            let mut pairs = Vec::new();
            for _ in 0..opts.pairs.max(1) {
                // Back to back, baseline first, so both see the same machine.
                let b = clean(wrk::run(&format!("{}{bare_path}", bare.base), c, t, None).await?)?;
                let o = clean(wrk::run(&ours_url, c, t, None).await?)?;
                print_run(&format!("bare warp {bare_path}"), &b);
                print_run(&format!("{backend} {request}"), &o);
                pairs.push((b, o));
            }
            let ratio = median(pairs.iter().map(|(b, o)| o.rps / b.rps).collect());
            println!("  -> {request} c{c}: median ratio {ratio:.2}");
            checks.push(ratio_check(format!("{request}, c{c}"), ratio, min));
            reads.push(ReadFigure {
                request: request.into(),
                connections: c,
                pairs,
                median_ratio: ratio,
            });
        }
    }
    bare.stop()?;

    let script = wrk::post_script(
        env.dir(),
        "order",
        &format!(r#"{{"product_id": {first}, "quantity": 1}}"#),
    )?;
    let orders_url = format!("{base}/orders");
    let mut orders = Vec::new();
    for &c in &opts.connections {
        let r = clean(wrk::run(&orders_url, c, t, Some(&script)).await?)?;
        print_run(&format!("{backend} POST /orders, one product"), &r);
        orders.push(r);
    }
    let memory = env.server().memory();
    let (mut hot_row, mut two) = (None, None);
    if opts.target.postgres {
        let hot = pgbench::hot_row(t).await?;
        println!(
            "  pgbench one hot row: {:.0} tps\n    {}",
            hot.tps, hot.command
        );
        let c = opts.connections.iter().copied().max().unwrap_or(200);
        let second = env.second_instance().await?;
        let second_url = format!("{}/orders", second.base);
        let half = (c / 2).max(1);
        let (a, b) = tokio::join!(
            wrk::run(&orders_url, half, t, Some(&script)),
            wrk::run(&second_url, half, t, Some(&script))
        );
        let (a, b) = (clean(a?)?, clean(b?)?);
        let sum = a.rps + b.rps;
        println!(
            "  two instances, c{half} each: {sum:.0} orders/s, p99 {:.1} / {:.1} ms",
            a.p99_ms, b.p99_ms
        );
        second.stop()?;
        for r in &orders {
            checks.push(hot_check(
                format!("hot SKU, one instance, c{}", r.connections),
                r.rps,
                r.p99_ms,
                hot.tps,
            ));
        }
        checks.push(hot_check(
            format!("hot SKU, two instances, c{half}+c{half}"),
            sum,
            a.p99_ms.max(b.p99_ms),
            hot.tps,
        ));
        hot_row = Some(hot);
        two = Some((a, b));
    } else if let Some(r) = orders.iter().max_by_key(|r| r.connections) {
        checks.push(Check {
            what: format!("durable orders, one product, c{}", r.connections),
            measured: format!("{:.0}/s", r.rps),
            against: "synchronous=FULL".into(),
            ratio: None,
            target: ">= 25000/s".into(),
            met: r.rps >= 25_000.0,
        });
    }
    if let Some(m) = memory {
        checks.push(Check {
            what: "server peak RSS under load".into(),
            measured: format!("{:.1} MiB", m.peak_kib as f64 / 1024.0),
            against: "-".into(),
            ratio: None,
            target: "< 64 MiB".into(),
            met: m.peak_kib < 64 * 1024,
        });
    }
    print_checks(&format!("issue 17 targets, {backend} (wrk)"), &checks);
    let figures = Figures {
        backend,
        load_before,
        reads,
        orders,
        orders_two_instances: two,
        hot_row,
        memory,
        load_after: load_average(),
    };
    env.stop()?;
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&figures).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn hot_check(what: String, rps: f64, p99_ms: f64, hot_tps: f64) -> Check {
    let ratio = rps / hot_tps;
    Check {
        what,
        measured: format!("{rps:.0}/s p99 {p99_ms:.0} ms"),
        against: format!("pgbench hot row {hot_tps:.0} tps"),
        ratio: Some(ratio),
        target: ">= 10, < 100 ms".into(),
        met: ratio >= 10.0 && p99_ms < 100.0,
    }
}

/// `loadtest flash-sale`: fails unless exactly the stock sells and everyone else gets the 409.
pub async fn flash_sale(opts: &FlashOpts) -> Result<(), String> {
    println!(
        "loadtest flash-sale: {} backend, {} buyers, stock {}, load average {:.2}",
        if opts.target.postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        opts.buyers,
        opts.stock,
        load_average()
    );
    let env = Env::start(&plan_options(&opts.target), false).await?;
    let sale: Result<FlashSale, String> =
        flash::run(&env.server().base, "FLASH-1", opts.buyers, opts.stock).await;
    let memory = env.server().memory();
    env.stop()?;
    let sale = sale?;
    println!("  {}", sale.summary());
    if let Some(m) = memory {
        println!("  server peak RSS {:.1} MiB", m.peak_kib as f64 / 1024.0);
    }
    sale.check()
}
