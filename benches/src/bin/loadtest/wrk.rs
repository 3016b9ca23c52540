//! [wrk](https://github.com/wg/wrk), the light load generator (Debian's `wrk`): a few C threads
//! on an event loop, so it leaves the two cores to the server where goose needs most of them
//! itself. Run as a child process; its text output is parsed here.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

/// What one wrk run measured.
#[derive(Debug, Clone, Serialize)]
pub struct WrkRun {
    /// The URL attacked.
    pub url: String,
    /// Open connections.
    pub connections: usize,
    /// Requests answered per second over the run.
    pub rps: f64,
    /// Requests answered.
    pub requests: u64,
    /// Answers with a status ≥ 400 (wrk's "Non-2xx or 3xx responses").
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts together.
    pub socket_errors: u64,
    /// Median latency, ms (wrk: from sending to the whole response).
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// The command, for the record.
    pub command: String,
}

/// `wrk` on `PATH`.
pub fn find() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("wrk"))
        .find(|p| p.is_file())
}

/// Writes the Lua script that makes every request of a run a `POST` of `body` (JSON).
pub fn post_script(dir: &Path, name: &str, body: &str) -> Result<PathBuf, String> {
    let path = dir.join(format!("{name}.lua"));
    // wrk's Lua takes a long-bracket string verbatim: no escaping of the JSON.
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{body}]]\n"
    );
    std::fs::write(&path, script).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// `wrk -t2 -c<connections> -d<seconds>s --latency [-s script] url`.
pub async fn run(
    url: &str,
    connections: usize,
    seconds: u64,
    script: Option<&Path>,
) -> Result<WrkRun, String> {
    let exe = find().ok_or("wrk not found on PATH (Debian: apt-get install wrk)")?;
    let threads = connections.clamp(1, 2);
    let mut args = vec![
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{seconds}s"),
        // A hung request is an error, not a latency: wrk's default of 2 s, stated.
        "--timeout".to_owned(),
        "10s".to_owned(),
        "--latency".to_owned(),
    ];
    if let Some(s) = script {
        args.extend(["-s".to_owned(), s.display().to_string()]);
    }
    args.push(url.to_owned());
    let command = format!("wrk {}", args.join(" "));
    let shown = command.clone();
    let output = tokio::task::spawn_blocking(move || Command::new(exe).args(&args).output())
        .await
        .map_err(|e| format!("{shown}: {e}"))?
        .map_err(|e| format!("{shown}: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{command} failed ({}):\n{text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&text, url, connections, command)
}

/// Reads wrk's summary: `Requests/sec:`, the `N requests in` line, the latency distribution,
/// `Non-2xx or 3xx responses:` and `Socket errors:` (both absent when zero).
fn parse(text: &str, url: &str, connections: usize, command: String) -> Result<WrkRun, String> {
    let missing = |what: &str| format!("no {what} in wrk's output:\n{text}");
    let after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
    };
    let rps = after("Requests/sec:")
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| missing("Requests/sec"))?;
    let requests = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.trim()))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| missing("request count"))?;
    let non_2xx = after("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let socket_errors = after("Socket errors:").map_or(0, |rest| {
        rest.split(',')
            .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    });
    let percentile = |p: &str| {
        after(p)
            .and_then(duration_ms)
            .ok_or_else(|| missing(&format!("{p} latency")))
    };
    Ok(WrkRun {
        url: url.to_owned(),
        connections,
        rps,
        requests,
        non_2xx,
        socket_errors,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
        command,
    })
}

/// `513.00us`, `1.20ms`, `2.01s`, `1.00m` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 1s test @ http://127.0.0.1:1/products/1
  2 threads and 25 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   530.47us  300.22us   5.84ms   90.12%
    Req/Sec    20.11k     1.02k   22.00k    70.00%
  Latency Distribution
     50%  480.00us
     75%  600.00us
     90%  800.00us
     99%    1.91ms
  40022 requests in 1.00s, 8.02MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  40012.34
Transfer/sec:      8.01MB
";

    #[test]
    fn the_summary_is_read_with_its_units() {
        let r = parse(SAMPLE, "u", 25, "wrk".into()).expect("parsed");
        assert_eq!(r.requests, 40022);
        assert!((r.rps - 40012.34).abs() < 1e-6);
        assert_eq!((r.non_2xx, r.socket_errors), (7, 3));
        assert!((r.p50_ms - 0.48).abs() < 1e-9);
        assert!((r.p99_ms - 1.91).abs() < 1e-9);
        assert_eq!(duration_ms("2.5s"), Some(2500.0));
        assert_eq!(duration_ms("1x"), None);
    }

    #[test]
    fn a_run_without_errors_counts_none() {
        let clean: String = SAMPLE
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
            .map(|l| format!("{l}\n"))
            .collect();
        let r = parse(&clean, "u", 25, "wrk".into()).expect("parsed");
        assert_eq!((r.non_2xx, r.socket_errors), (0, 0));
        assert!(parse("garbage", "u", 1, "wrk".into()).is_err());
    }
}
