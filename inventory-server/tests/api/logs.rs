//! What hostile traffic leaves in the logs of the real binary with `LOG_FORMAT=json`: every line
//! one JSON object, no ERROR (ERROR means our fault), the clients' broken requests at debug;
//! and no database password at start-up.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inventory_server::Settings;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::Backend;
use crate::helpers::extra::fresh_database;

/// The binary, started in an empty directory with only `vars` set, its output collected.
struct Process {
    child: Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Process {
    fn start(vars: &[(&str, &str)]) -> Process {
        let dir = tempfile::tempdir().expect("a working directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_inventory-server"));
        command.current_dir(dir.path());
        for variable in Settings::VARIABLES {
            command.env_remove(variable);
        }
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info,inventory_server=debug")
            .env_remove("RUST_BACKTRACE")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start inventory-server");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (stream, port_tx) in [
            (
                Box::new(stdout) as Box<dyn std::io::Read + Send>,
                Some(port_tx),
            ),
            (Box::new(stderr), None),
        ] {
            let lines = lines.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(tx) = &port_tx
                        && let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v["message"] == "listening"
                        && let Some(port) = v["port"].as_u64()
                    {
                        let _ = tx.send(port as u16);
                    }
                    lines.lock().expect("lines").push(line);
                }
            }));
        }
        let port = port_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!(
                    "the server did not log `listening`: {:?}",
                    lines.lock().expect("lines")
                )
            });
        Process {
            child,
            port,
            lines,
            readers,
            _dir: dir,
        }
    }

    /// SIGTERM, then every line it wrote.
    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "send SIGTERM");
        let status = self.child.wait().expect("wait for the server");
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let lines = self.lines.lock().expect("lines").clone();
        assert!(status.success(), "exit status {status}; output: {lines:#?}");
        lines
    }
}

/// Sends `bytes` on a fresh connection, then reads until the server closes or 5 s pass.
async fn hit(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let _ = stream.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    out
}

/// Sends `bytes` and closes at once, without reading.
async fn hit_and_run(port: u16, bytes: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_traffic_logs_json_lines_and_no_error() {
    let dir = tempfile::tempdir().expect("a database directory");
    let url = format!("sqlite://{}/logs.db", dir.path().display());
    let server = Process::start(&[
        ("DATABASE_URL", url.as_str()),
        ("WEBHOOK_SECRET", "log-test-secret"),
        ("HEADER_READ_TIMEOUT", "1s"),
    ]);
    let port = server.port;
    let answer = hit(
        port,
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with(b"HTTP/1.1 400 "), "{answer:?}");
    // A TLS ClientHello on the plain port, junk, a malformed header line, a head too large.
    hit(port, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage").await;
    hit(port, b"\x00\x01\x02\x03 not http at all\r\n\r\n").await;
    hit(port, b"GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n").await;
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    hit(port, huge.as_bytes()).await;
    // A body cut short, a head cut short, a request abandoned before its answer.
    hit_and_run(
        port,
        b"POST /products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sku\"",
    )
    .await;
    hit_and_run(port, b"GET /health HTTP/1.1\r\nHo").await;
    // HTTP/2 with prior knowledge, then frames that break the protocol.
    let mut h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    h2.extend_from_slice(&[0, 0, 4, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3, 4]);
    h2.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 7]);
    hit(port, &h2).await;
    // A head sent slower than HEADER_READ_TIMEOUT allows: the server cuts it.
    let slow = hit(port, b"GET /health HTTP/1.1\r\nX-Slow: 1").await;
    assert!(slow.is_empty(), "{slow:?}");
    // Still serving.
    let ok = hit(
        port,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with(b"HTTP/1.1 200 "), "{ok:?}");

    let lines = tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("stop");
    let mut broken = 0;
    for line in &lines {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line:?}"));
        assert_ne!(
            event["level"], "ERROR",
            "an ERROR line from client traffic: {line}"
        );
        if event["message"] == "connection ended with an error" {
            assert_eq!(event["level"], "DEBUG", "{line}");
            broken += 1;
        }
    }
    assert!(
        broken >= 3,
        "the broken connections are logged at debug ({broken} lines): {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_passwords_stay_out_of_the_start_up_log() {
    let database = fresh_database(Backend::Postgres).await;
    // Trust authentication: the passwords are never checked, only (not) printed.
    let url = database.database_url().replacen(
        "postgres://postgres@",
        "postgres://postgres:userinfo-secret-1@",
        1,
    );
    let url = format!("{url}?application_name=logs&password=query-secret-2");
    let server = Process::start(&[("DATABASE_URL", url.as_str())]);
    let lines = tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("stop");
    let all = lines.join("\n");
    assert!(all.contains("starting"), "{all}");
    assert!(
        all.contains("application_name=logs"),
        "the rest of the URL is kept: {all}"
    );
    for secret in ["userinfo-secret-1", "query-secret-2"] {
        assert!(!all.contains(secret), "{secret} was logged:\n{all}");
    }
}
