//! `loadtest`: the goose load test of issue 8, with its same-run baseline.
//!
//! ```text
//! cargo build --release -p inventory-server -p inventory-benches
//! target/release/loadtest all              # every figure and target, SQLite
//! target/release/loadtest all --postgres   # the same on PostgreSQL, with pgbench -N beside it
//! target/release/loadtest smoke            # a few seconds, for CI (non-zero on any failure)
//! target/release/loadtest run orders --users 200 --profile /tmp/prof
//! ```
//!
//! The server under test is `inventory-server` from this executable's own directory, started
//! as a child process on a fresh database with `RATE_LIMIT=0`; the baseline is this
//! executable's `baseline-server` subcommand, a bare warp server, started beside it. See
//! `benches/README.md` for what each figure means.

mod child;
mod flash;
mod light;
mod pgbench;
mod plan;
mod report;
mod scenarios;
mod seed;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "loadtest",
    about = "Goose load test of inventory-server against a bare warp baseline"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every figure: product get and list at each --users beside the baseline, the seed's
    /// mix, POST /orders, pgbench (--postgres), and the long mix run; then the targets.
    All(Opts),
    /// A few seconds with few users, for CI: non-zero exit on a failure to start, no request
    /// made, any failed request or an unclean stop.
    Smoke(Opts),
    /// One scenario at each --users (with --profile, a perf record of the server per run).
    Run {
        /// The scenario.
        #[arg(value_enum)]
        scenario: scenarios::Kind,
        #[command(flatten)]
        opts: Opts,
    },
    /// The bare warp baseline (started by the other commands as a child process).
    BaselineServer {
        /// Port on 127.0.0.1.
        #[arg(long)]
        port: u16,
        /// Answer `GET /product` with this file's bytes, pre-serialized (with --list).
        #[arg(long, requires = "list")]
        one: Option<PathBuf>,
        /// Answer `GET /products` with this file's bytes, pre-serialized (with --one).
        #[arg(long, requires = "one")]
        list: Option<PathBuf>,
    },
    /// The light-client figures of issue 17 with wrk: GET /products/1 and GET
    /// /products?limit=100 against bare warp answering the same bytes, POST /orders on one
    /// product (one and, on PostgreSQL, two instances), pgbench's one-hot-row rate, and the
    /// targets.
    Wrk(light::WrkOpts),
    /// The flash sale: --buyers at once, one SKU with --stock units, each buyer one order over
    /// its own connection; non-zero unless exactly --stock sell and every other buyer gets 409.
    FlashSale(light::FlashOpts),
}

/// The server under test, on which database: the options every plan shares.
#[derive(Args, Clone)]
struct Target {
    /// Use a fresh PostgreSQL database on TEST_DATABASE_URL's server (default
    /// postgres://postgres@127.0.0.1:5432/test) instead of an SQLite file.
    #[arg(long)]
    postgres: bool,
    /// The inventory-server executable (default: the one next to this executable).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Extra environment for the server, KEY=VALUE (repeatable), e.g. DATABASE_POOL_SIZE=32.
    #[arg(long, value_parser = parse_env)]
    server_env: Vec<(String, String)>,
}

#[derive(Args, Clone)]
struct Opts {
    #[command(flatten)]
    target: Target,
    /// Seconds measured per attack (default: all, run 10; smoke 3).
    #[arg(long)]
    run_time: Option<u64>,
    /// Users (concurrent connections), comma-separated (default: all, run 25,200; smoke 4).
    #[arg(long, value_delimiter = ',')]
    users: Option<Vec<usize>>,
    /// Users of the POST /orders run.
    #[arg(long, default_value_t = 200)]
    orders_users: usize,
    /// Users of the long mix run.
    #[arg(long, default_value_t = 1000)]
    soak_users: usize,
    /// Seconds of the long mix run.
    #[arg(long, default_value_t = 30)]
    soak_time: u64,
    /// The paced long run: each user pauses a random 0..=this many ms after each request.
    #[arg(long, default_value_t = 200)]
    soak_wait_ms: u64,
    /// run: each user pauses a random 0..=this many ms after each request (default: none).
    #[arg(long)]
    wait_ms: Option<u64>,
    /// Also write every result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Record the loaded server with `perf record --call-graph dwarf` into this directory, one file per run.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Scrape the server's /metrics every this many seconds during each attack, as Prometheus
    /// would (default: never).
    #[arg(long, value_name = "SECONDS")]
    scrape_metrics: Option<u64>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

impl Opts {
    fn plan(self, run_time: u64, users: &[usize]) -> plan::Options {
        plan::Options {
            postgres: self.target.postgres,
            run_time: self.run_time.unwrap_or(run_time).max(1),
            users: self.users.unwrap_or_else(|| users.to_vec()),
            orders_users: self.orders_users,
            soak_users: self.soak_users,
            soak_time: self.soak_time,
            soak_wait_ms: self.soak_wait_ms,
            wait_ms: self.wait_ms,
            server: self.target.server,
            server_env: self.target.server_env,
            json: self.json,
            profile: self.profile,
            scrape_metrics: self.scrape_metrics,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadtest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Cmd::BaselineServer { port, one, list } => baseline_server(port, one, list).await,
            Cmd::Wrk(opts) => light::figures(&opts).await,
            Cmd::FlashSale(opts) => light::flash_sale(&opts).await,
            Cmd::All(opts) => plan::all(&opts.plan(10, &[25, 200])).await,
            Cmd::Smoke(opts) => plan::smoke(&opts.plan(3, &[4])).await,
            Cmd::Run { scenario, opts } => plan::one(&opts.plan(10, &[25, 200]), scenario).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves the baseline (pre-serialized from files when given) until SIGTERM or Ctrl-C.
async fn baseline_server(
    port: u16,
    one: Option<PathBuf>,
    list: Option<PathBuf>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("baseline: cannot listen on 127.0.0.1:{port}: {e}"))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("baseline: SIGTERM handler: {e}"))?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    match (one, list) {
        (Some(one), Some(list)) => {
            let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
            let (one, list) = (read(&one)?, read(&list)?);
            inventory_benches::baseline::serve_raw_until(listener, one, list, stop).await;
        }
        _ => inventory_benches::baseline::serve_until(listener, stop).await,
    }
    Ok(())
}
