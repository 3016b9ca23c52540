//! Figures from goose's metrics: requests/s over the measured window, percentiles from goose's
//! response-time histograms (time to the response headers, in log-linear buckets within 0.8 %),
//! and failures split by cause.

use goose::metrics::{GooseMetrics, GooseRequestMetricAggregate, GooseRequestMetricTimingData};
use goose::test_plan::TestPlanStepAction;
use serde::Serialize;

use crate::child::Memory;
use crate::scenarios::Kind;

/// One request type (or an aggregate of several) in one run.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// "GET /products/{id}", or "all", "reads".
    pub name: String,
    /// Requests answered or failed in the measured window.
    pub requests: usize,
    /// Requests per second over the measured window.
    pub rps: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Every failed request: unexpected status, or no answer.
    pub failures: usize,
    /// Of which answered 5xx.
    pub server_errors: usize,
    /// Of which answered 4xx.
    pub client_errors: usize,
    /// Of which never answered (connection error, timeout).
    pub transport_errors: usize,
}

/// One attack.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The scenario.
    pub kind: Kind,
    /// "sqlite", "postgres", or "baseline".
    pub target: String,
    /// Concurrent users (connections).
    pub users: usize,
    /// Each user's pause after a request, uniformly 0..=this many ms; `None`: no pause.
    pub max_wait_ms: Option<u64>,
    /// Length of the measured window, s.
    pub seconds: f64,
    /// Per request type, by name.
    pub rows: Vec<Stats>,
    /// All requests.
    pub total: Stats,
    /// The GET requests together.
    pub reads: Option<Stats>,
    /// The loaded server's memory: peak during this run (where the kernel lets the peak be
    /// reset) and at its end.
    pub memory: Option<Memory>,
    /// CPU the loaded server used during the measured window, in cores (1.0 = one core busy).
    /// The server process only: PostgreSQL's own processes are not in it.
    pub server_cores: Option<f64>,
    /// Server CPU per request, µs: its cost independent of the load generator's speed.
    pub server_us_per_request: Option<f64>,
    /// CPU the load generator (this process) used in the window, in cores.
    pub client_cores: Option<f64>,
    /// 1-minute load average before the run (other work on the machine skews every figure).
    pub load_before: f64,
    /// The most frequent error messages.
    pub errors: Vec<String>,
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// The measured window: from the step where every user runs (goose resets its metrics there)
/// to the step that starts stopping them; goose's whole-second duration otherwise.
/// The measured window as wall-clock instants (to match CPU samples against).
pub fn measured_window(
    metrics: &GooseMetrics,
) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
    let history = &metrics.history;
    let i = history
        .iter()
        .position(|h| matches!(h.action, TestPlanStepAction::Maintaining))?;
    let end = history[i + 1..]
        .iter()
        .find(|h| !matches!(h.action, TestPlanStepAction::Maintaining))?;
    Some((history[i].timestamp.into(), end.timestamp.into()))
}

fn measured_seconds(metrics: &GooseMetrics) -> f64 {
    let history = &metrics.history;
    let start = history
        .iter()
        .position(|h| matches!(h.action, TestPlanStepAction::Maintaining));
    if let Some(i) = start
        && let Some(end) = history[i + 1..]
            .iter()
            .find(|h| !matches!(h.action, TestPlanStepAction::Maintaining))
    {
        let ms = (end.timestamp - history[i].timestamp).num_milliseconds();
        if ms > 0 {
            return ms as f64 / 1000.0;
        }
    }
    metrics.duration.max(1) as f64
}

fn merge_timing(into: &mut GooseRequestMetricTimingData, other: &GooseRequestMetricTimingData) {
    for (bucket, count) in other.times_us.iter() {
        let had = into.times_us.get(bucket).copied().unwrap_or(0);
        into.times_us.insert(*bucket, had + count);
    }
    if other.counter > 0 && (into.counter == 0 || other.minimum_time_us < into.minimum_time_us) {
        into.minimum_time_us = other.minimum_time_us;
    }
    into.maximum_time_us = into.maximum_time_us.max(other.maximum_time_us);
    into.total_time_us += other.total_time_us;
    into.counter += other.counter;
}

fn stats<'a>(
    name: &str,
    seconds: f64,
    aggregates: impl Iterator<Item = &'a GooseRequestMetricAggregate>,
) -> Stats {
    let mut timing = GooseRequestMetricTimingData::default();
    let (mut requests, mut failures, mut server_errors, mut client_errors, mut transport_errors) =
        (0, 0, 0, 0, 0);
    for a in aggregates {
        merge_timing(&mut timing, &a.raw_data);
        requests += a.success_count + a.fail_count;
        failures += a.fail_count;
        for (&code, &n) in &a.status_code_counts {
            match code {
                0 => transport_errors += n,
                400..=499 => client_errors += n,
                500.. => server_errors += n,
                _ => {}
            }
        }
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Stats {
        name: name.to_owned(),
        requests,
        rps: requests as f64 / seconds,
        p50_ms: ms(timing.percentile_us(0.50)),
        p95_ms: ms(timing.percentile_us(0.95)),
        p99_ms: ms(timing.percentile_us(0.99)),
        max_ms: ms(timing.maximum_time_us),
        failures,
        server_errors,
        client_errors,
        transport_errors,
    }
}

/// The figures of one attack.
pub fn summarize(
    kind: Kind,
    target: &str,
    users: usize,
    max_wait_ms: Option<u64>,
    load_before: f64,
    metrics: &GooseMetrics,
) -> RunResult {
    let seconds = measured_seconds(metrics);
    let mut keys: Vec<&String> = metrics.requests.keys().collect();
    keys.sort();
    let rows = keys
        .iter()
        .map(|k| stats(k, seconds, std::iter::once(&metrics.requests[*k])))
        .collect();
    let total = stats("all", seconds, metrics.requests.values());
    let gets: Vec<&GooseRequestMetricAggregate> = metrics
        .requests
        .iter()
        .filter(|(k, _)| k.starts_with("GET "))
        .map(|(_, v)| v)
        .collect();
    let reads = (!gets.is_empty() && gets.len() < metrics.requests.len())
        .then(|| stats("reads (all GETs)", seconds, gets.into_iter()));
    let mut errors: Vec<(usize, String)> = metrics
        .errors
        .values()
        .map(|e| {
            (
                e.occurrences,
                format!("{} × {} {}: {}", e.occurrences, e.method, e.name, e.error),
            )
        })
        .collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.0));
    RunResult {
        kind,
        target: target.to_owned(),
        users,
        max_wait_ms,
        seconds,
        rows,
        total,
        reads,
        memory: None,
        server_cores: None,
        server_us_per_request: None,
        client_cores: None,
        load_before,
        errors: errors.into_iter().take(5).map(|(_, e)| e).collect(),
    }
}

fn print_stats(s: &Stats) {
    println!(
        "  {:<38} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>6} {:>5} {:>5} {:>5}",
        s.name,
        s.requests,
        s.rps,
        s.p50_ms,
        s.p95_ms,
        s.p99_ms,
        s.max_ms,
        s.failures,
        s.server_errors,
        s.client_errors,
        s.transport_errors
    );
}

/// Prints one attack's table.
pub fn print_run(r: &RunResult) {
    let pace = r
        .max_wait_ms
        .map_or_else(|| "no wait".to_owned(), |ms| format!("wait 0-{ms} ms"));
    println!(
        "\n--- {} on {}: {} users, {pace}, {:.1} s measured (load average before: {:.2}) ---",
        r.kind.label(),
        r.target,
        r.users,
        r.seconds,
        r.load_before
    );
    println!(
        "  {:<38} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>5} {:>5} {:>5}",
        "request",
        "count",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "fail",
        "5xx",
        "4xx",
        "conn"
    );
    for row in &r.rows {
        print_stats(row);
    }
    if r.rows.len() > 1 {
        if let Some(reads) = &r.reads {
            print_stats(reads);
        }
        print_stats(&r.total);
    }
    if let Some(m) = r.memory {
        println!(
            "  server memory: peak {:.1} MiB during the run, {:.1} MiB at its end",
            m.peak_kib as f64 / 1024.0,
            m.now_kib as f64 / 1024.0
        );
    }
    if let (Some(cores), Some(us)) = (r.server_cores, r.server_us_per_request) {
        println!(
            "  server CPU: {cores:.2} cores, {us:.1} µs per request; load generator: {:.2} cores",
            r.client_cores.unwrap_or(f64::NAN)
        );
    }
    for e in &r.errors {
        println!("  error: {e}");
    }
}

/// One target of issue 8, judged.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What is compared.
    pub what: String,
    /// Our figure, as text with its unit.
    pub measured: String,
    /// What it is compared with.
    pub against: String,
    /// The ratio, when the target is one.
    pub ratio: Option<f64>,
    /// The target, as text.
    pub target: String,
    /// Met or not.
    pub met: bool,
}

/// Prints the targets table.
pub fn print_checks(title: &str, checks: &[Check]) {
    println!("\n=== {title} ===");
    println!(
        "  {:<44} {:>16} {:>30} {:>7} {:>12}  met",
        "check", "ours", "against", "ratio", "target"
    );
    for c in checks {
        let ratio = c
            .ratio
            .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
        println!(
            "  {:<44} {:>16} {:>30} {:>7} {:>12}  {}",
            c.what,
            c.measured,
            c.against,
            ratio,
            c.target,
            if c.met { "yes" } else { "NO" }
        );
    }
}
