//! SQLite on a failing disk, on a small file system each test mounts (root, as in CI): a full
//! disk (tmpfs with `size=`) and a read-only one (ext4 on a loop device). Writes answer 503 with
//! a clear detail and `Retry-After`, reads keep working, nothing acknowledged is lost, and
//! writes succeed again once the disk is back. Every mount is undone on drop, also when a test
//! fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use inventory_server::Settings;
use serde_json::{Value, json};

use crate::helpers::extra::run_check;
use crate::helpers::{TestApp, id_of, start_with_clock};

/// Runs a command; its failure output in the panic message.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn must(program: &str, args: &[&str]) {
    if let Err(e) = run(program, args) {
        panic!("{e} (these tests mount file systems: they need root)");
    }
}

/// A file system mounted for one test; unmounted (lazily, should the server still hold files)
/// and its loop device detached on drop.
struct Mounted {
    dir: tempfile::TempDir,
    loop_device: Option<String>,
    image: Option<PathBuf>,
}

impl Mounted {
    fn point(&self) -> &Path {
        self.dir.path()
    }

    fn point_str(&self) -> &str {
        self.point().to_str().expect("a UTF-8 temporary path")
    }

    /// A tmpfs of `size` (such as `4m`).
    fn tmpfs(size: &str) -> Mounted {
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = Mounted {
            dir,
            loop_device: None,
            image: None,
        };
        must(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                mounted.point_str(),
            ],
        );
        mounted
    }

    /// ext4 in a 32 MiB image on a loop device, remounted read-only by the kernel on an error.
    fn ext4() -> Mounted {
        let dir = tempfile::tempdir().expect("a mount point");
        let image = std::env::temp_dir().join(format!(
            "inventory-disk-{}-{}.img",
            std::process::id(),
            dir.path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
        ));
        let file = std::fs::File::create(&image).expect("create the image");
        file.set_len(32 << 20).expect("size the image");
        drop(file);
        let path = image.to_str().expect("UTF-8").to_owned();
        let mut mounted = Mounted {
            dir,
            loop_device: None,
            image: Some(image),
        };
        must("mkfs.ext4", &["-q", "-F", &path]);
        let output = Command::new("losetup")
            .args(["-f", "--show", &path])
            .output()
            .expect("losetup");
        assert!(output.status.success(), "losetup: {output:?} (needs root)");
        let device = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        mounted.loop_device = Some(device.clone());
        must(
            "mount",
            &["-o", "errors=remount-ro", &device, mounted.point_str()],
        );
        mounted
    }

    fn device(&self) -> &str {
        self.loop_device.as_deref().expect("a loop device")
    }

    /// The processes with a file open under the mount point (for a failure message).
    fn holders(&self) -> Vec<String> {
        let point = self.point();
        let mut found = Vec::new();
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return found;
        };
        for process in processes.flatten() {
            let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|target| target.starts_with(point)) {
                    let comm =
                        std::fs::read_to_string(process.path().join("comm")).unwrap_or_default();
                    found.push(format!("{:?} {}", process.file_name(), comm.trim()));
                }
            }
        }
        found
    }

    /// Unmounts, repairs and mounts the image again (after the kernel made it read-only).
    fn repair(&self) {
        // The server has closed its files; a process another test forks meanwhile can hold a
        // copy of them until it execs, so an unmount may find the mount busy for a moment. It
        // waits for that event (no process holding a file there), then tries again, against a
        // deadline, naming the holders if it never succeeds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while let Err(e) = run("umount", &[self.point_str()]) {
            loop {
                let holders = self.holders();
                if std::time::Instant::now() > deadline {
                    panic!("{e}; files open there: {holders:?}");
                }
                if holders.is_empty() {
                    break;
                }
                std::thread::yield_now();
            }
        }
        // e2fsck exits 1 when it fixed something: that is the point here.
        let _ = run("e2fsck", &["-f", "-y", self.device()]);
        must(
            "mount",
            &["-o", "errors=remount-ro", self.device(), self.point_str()],
        );
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let point = self.point_str().to_owned();
        if run("umount", &[&point]).is_err() {
            let _ = run("umount", &["-l", &point]);
        }
        if let Some(device) = &self.loop_device {
            let _ = run("losetup", &["-d", device]);
        }
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}

async fn start_on(url: &str) -> TestApp {
    let settings = Settings::for_database(url);
    start_with_clock(settings, None, inventory_core::clock::SystemClock).await
}

/// A product with a large stock and `n` acknowledged orders; returns (product, order ids).
async fn acknowledged_orders(app: &TestApp, n: usize) -> (i64, Vec<i64>) {
    let product = id_of(&app.create_product("DISK-1", 1.0, 1_000_000).await);
    let mut orders = Vec::new();
    for _ in 0..n {
        orders.push(id_of(&app.create_order(product, 1).await));
    }
    (product, orders)
}

/// Writes while the disk refuses them: each a 503 with the storage detail and `Retry-After`;
/// a write that went through anyway is acknowledged like any other and returned.
async fn writes_are_refused(app: &TestApp, product: i64) -> Vec<i64> {
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for i in 0..200 {
        let reply = if i % 2 == 0 {
            app.post_json("/orders", &json!({"product_id": product, "quantity": 1}))
                .await
        } else {
            let name = "n".repeat(200);
            let body = json!({"sku": format!("FULL-{i}"), "name": name, "price": 1.0, "stock": 1});
            app.post_json("/products", &body).await
        };
        match reply.status {
            201 if i % 2 == 0 => acknowledged.push(id_of(&reply.json())),
            201 => {}
            _ => {
                reply.assert_detail(503, json!(inventory_server::error::STORAGE_UNAVAILABLE));
                assert!(reply.header("retry-after").is_some(), "{}", reply.text);
                refused += 1;
                if refused >= 10 {
                    return acknowledged;
                }
            }
        }
    }
    panic!(
        "the disk never refused a write ({} accepted)",
        acknowledged.len()
    );
}

async fn assert_all_there(app: &TestApp, orders: &[i64]) {
    for order in orders {
        let got = app.get(&format!("/orders/{order}")).await.expect_json(200);
        assert_eq!(got["status"], json!("PENDING"), "{got}");
    }
}

async fn assert_invariant(url: &str) {
    let check = run_check(url).await;
    assert_eq!(check.code, Some(0), "the invariant holds: {check:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    let disk = Mounted::tmpfs("8m");
    let url = format!("sqlite://{}/inventory.db", disk.point_str());
    let app = start_on(&url).await;
    let (product, mut orders) = acknowledged_orders(&app, 20).await;

    // Fill the file system to the last byte.
    let filler = disk.point().join("filler");
    tokio::task::spawn_blocking({
        let filler = filler.clone();
        move || {
            use std::io::Write;
            let mut file = std::fs::File::create(&filler).expect("the filler");
            let chunk = vec![0u8; 64 << 10];
            while file.write_all(&chunk).is_ok() {}
            let _ = file.sync_all();
        }
    })
    .await
    .expect("filled");

    orders.extend(writes_are_refused(&app, product).await);
    // Reads keep working.
    assert_all_there(&app, &orders).await;
    let products: Value = app.get("/products").await.expect_json(200);
    assert!(products.as_array().is_some_and(|p| !p.is_empty()));

    // Space returns: writes succeed again, without a restart.
    std::fs::remove_file(&filler).expect("remove the filler");
    orders.push(id_of(&app.create_order(product, 1).await));
    app.create_product("DISK-2", 1.0, 1).await;

    // Nothing acknowledged was lost, on disk as well.
    app.stop().await;
    let app = start_on(&url).await;
    assert_all_there(&app, &orders).await;
    assert_eq!(app.stock(product).await, 1_000_000 - orders.len() as i64);
    app.stop().await;
    assert_invariant(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_disk_refuses_writes_keeps_reads_and_loses_nothing() {
    let disk = Mounted::ext4();
    let url = format!("sqlite://{}/inventory.db", disk.point_str());
    let app = start_on(&url).await;
    let (product, mut orders) = acknowledged_orders(&app, 20).await;

    // `mount -o remount,ro` is what an operator types, but Linux refuses it (busy) while SQLite
    // holds its files open for writing. The kernel's own remount on an error (errors=remount-ro)
    // is not refused: it is what a failing disk does to a running server.
    let remounted = run("mount", &["-o", "remount,ro", disk.point_str()]).is_ok();
    if !remounted {
        let device = disk.device().trim_start_matches("/dev/").to_owned();
        std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "1")
            .expect("trigger ext4's error handling (remount read-only)");
    }
    let probe = std::fs::write(disk.point().join("probe"), "x");
    assert!(probe.is_err(), "the file system is read-only now");

    orders.extend(writes_are_refused(&app, product).await);
    assert_all_there(&app, &orders).await;
    app.get("/products").await.expect_json(200);

    if remounted {
        must("mount", &["-o", "remount,rw", disk.point_str()]);
        orders.push(id_of(&app.create_order(product, 1).await));
        app.stop().await;
    } else {
        // An aborted ext4 journal stays read-only until repaired: stop, repair, start again.
        app.stop().await;
        disk.repair();
    }
    let app = start_on(&url).await;
    assert_all_there(&app, &orders).await;
    orders.push(id_of(&app.create_order(product, 1).await));
    assert_eq!(app.stock(product).await, 1_000_000 - orders.len() as i64);
    app.stop().await;
    assert_invariant(&url).await;
}
