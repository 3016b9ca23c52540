//! The panic hook the binary installs: a panic is one JSON line through tracing (at ERROR), not
//! the default multi-line text that breaks `LOG_FORMAT=json`. Its own test binary, since the
//! hook is process-wide.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A log destination the test can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_is_logged_as_one_json_line() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    inventory_server::telemetry::install_panic_hook();

    let joined = std::thread::Builder::new()
        .name("doomed".into())
        .spawn(|| panic!("boom: {}", 42))
        .expect("spawn")
        .join();
    assert!(joined.is_err(), "the thread panicked");

    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {text:?}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON object");
    assert_eq!(event["level"], "ERROR", "{event}");
    assert_eq!(event["message"], "panic", "{event}");
    assert_eq!(event["panic.message"], "boom: 42", "{event}");
    assert_eq!(event["panic.thread"], "doomed", "{event}");
    let location = event["panic.location"].as_str().unwrap_or_default();
    assert!(location.contains("panic_hook.rs:"), "{event}");
}
