//! The exportable spec: `inventory-server openapi` prints the document the server serves,
//! without settings or a database, and the copy committed for client generators is that
//! document.

use std::process::Command;

const COMMITTED: &str = include_str!("../../openapi.json");

fn printed() -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Settings that could not start a server: the command must not read them.
    let output = Command::new(env!("CARGO_BIN_EXE_inventory-server"))
        .arg("openapi")
        .current_dir(dir.path())
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("PORT", "not-a-port")
        .output()
        .expect("the server binary runs");
    (output, dir)
}

#[test]
fn openapi_prints_the_served_document_without_a_database() {
    let (output, dir) = printed();
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut served = inventory_server::openapi::document_json();
    served.push(b'\n');
    assert_eq!(output.stdout, served);
    let left_behind: Vec<_> = std::fs::read_dir(dir.path()).expect("readable").collect();
    assert!(left_behind.is_empty(), "files created: {left_behind:?}");
}

#[test]
fn the_committed_openapi_json_is_current() {
    let mut served = String::from_utf8(inventory_server::openapi::document_json()).expect("UTF-8");
    served.push('\n');
    assert!(
        served == COMMITTED,
        "openapi.json at the repository root is stale: regenerate it with \
         `cargo run -p inventory-server -- openapi > openapi.json`"
    );
}
