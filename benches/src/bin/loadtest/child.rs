//! The servers under test, each a child process: `inventory-server` (found next to this
//! executable) and the bare warp baseline (this executable's `baseline-server` subcommand).
//! Started on a free loopback port, awaited on a health path with a deadline, measured through
//! `/proc/<pid>/status`, and stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use inventory_server::Settings;

/// The webhook secret the server under test is given.
pub const WEBHOOK_SECRET: &str = "loadtest-webhook-secret";

/// How long a server may take to answer its health path.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// A running server process.
pub struct Server {
    /// What it is, for messages ("inventory-server", "baseline").
    pub name: &'static str,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    child: Option<std::process::Child>,
    log: PathBuf,
}

/// Memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    /// Peak resident set (VmHWM) since start or since [`Server::reset_peak`], KiB.
    pub peak_kib: u64,
    /// Resident set now (VmRSS), KiB.
    pub now_kib: u64,
}

/// CPU time (user + system, all threads) a process has used so far, in seconds, from
/// `/proc/<pid>/stat`; `None` off Linux or after exit.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks())
}

/// `getconf CLK_TCK` (100 on every Linux we know of).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Where `inventory-server` is: `--server`, else next to this executable (same profile).
pub fn server_executable(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(format!("--server {}: no such file", path.display()))
        };
    }
    let me = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let dir = me.parent().ok_or("this executable has no directory")?;
    let server = dir.join(format!("inventory-server{}", std::env::consts::EXE_SUFFIX));
    if server.is_file() {
        Ok(server)
    } else {
        let profile = if dir.ends_with("release") {
            "--release "
        } else {
            ""
        };
        Err(format!(
            "{} not found: the load test starts the server built in the same target directory and profile.\n\
             Build it first:  cargo build {profile}-p inventory-server",
            server.display()
        ))
    }
}

/// A free loopback port (bound and released; the child binds it right after).
pub fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl Server {
    /// Starts `inventory-server` on `database_url` in `workdir` (so no stray `.env` is read),
    /// with rate limiting off, JSON logs at `warn`, and a webhook secret; `extra` variables
    /// (`--server-env`) come last, for experiments such as `DATABASE_POOL_SIZE=32`.
    pub fn start_inventory(
        exe: &Path,
        database_url: &str,
        workdir: &Path,
        extra: &[(String, String)],
    ) -> Result<Server, String> {
        let port = free_port()?;
        let mut command = Command::new(exe);
        command.arg("serve");
        // Only what we set: nothing from the caller's environment changes the server under test.
        for variable in Settings::VARIABLES {
            command.env_remove(variable);
        }
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database_url)
            .env("RATE_LIMIT", "0")
            .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn");
        command.envs(extra.iter().map(|(k, v)| (k, v)));
        Server::spawn("inventory-server", command, port, workdir)
    }

    /// Starts this executable's `baseline-server` subcommand.
    pub fn start_baseline(workdir: &Path) -> Result<Server, String> {
        Server::start_baseline_with(workdir, &[])
    }

    /// Starts the baseline answering `one` and `list` (files) pre-serialized.
    pub fn start_raw_baseline(workdir: &Path, one: &Path, list: &Path) -> Result<Server, String> {
        let (one, list) = (one.display().to_string(), list.display().to_string());
        Server::start_baseline_with(workdir, &["--one", &one, "--list", &list])
    }

    fn start_baseline_with(workdir: &Path, args: &[&str]) -> Result<Server, String> {
        let me =
            std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        let port = free_port()?;
        let mut command = Command::new(me);
        command.args(["baseline-server", "--port", &port.to_string()]);
        command.args(args);
        Server::spawn("baseline", command, port, workdir)
    }

    fn spawn(
        name: &'static str,
        mut command: Command,
        port: u16,
        workdir: &Path,
    ) -> Result<Server, String> {
        let log = workdir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let child = command
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Server {
            name,
            base: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Polls `GET <base><path>` until it answers 200, the process exits, or the deadline passes.
    pub async fn wait_ready(&mut self, path: &str) -> Result<Duration, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "{} exited with {status} before answering {url}; its log:\n{}",
                    self.name,
                    self.log_tail()
                ));
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status() == 200
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > START_DEADLINE {
                return Err(format!(
                    "{} did not answer {url} within {} s; its log:\n{}",
                    self.name,
                    START_DEADLINE.as_secs(),
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Resets the peak resident set (`echo 5 > /proc/<pid>/clear_refs`), so the next
    /// [`memory`](Self::memory) reports the peak of what follows. False where the kernel refuses.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// VmHWM and VmRSS from `/proc/<pid>/status`; `None` off Linux or after exit.
    pub fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        };
        Some(Memory {
            peak_kib: field("VmHWM:")?,
            now_kib: field("VmRSS:")?,
        })
    }

    /// Sends SIGTERM and waits for the exit (killing after a deadline). Returns the exit status.
    pub fn stop(mut self) -> Result<ExitStatus, String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<ExitStatus, String> {
        let Some(mut child) = self.child.take() else {
            return Err(format!("{} was already stopped", self.name));
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let status = child.wait().map_err(|e| e.to_string())?;
                    return Err(format!(
                        "{} did not stop within {} s of SIGTERM and was killed ({status})",
                        self.name,
                        STOP_DEADLINE.as_secs()
                    ));
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // On an early return or a panic, never leave a server running.
        if self.child.is_some() {
            let _ = self.stop_inner();
        }
    }
}
