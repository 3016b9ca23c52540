//! Connections a hostile or broken client holds: a head sent one byte at a time, an idle
//! keep-alive socket, a body that never completes, more sockets than the cap, and request
//! targets warp cannot route (which used to panic a server task).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, spawn_app_with};

both_backends!(@backend
    authority_form_target_is_400_and_the_server_carries_on,
    slow_headers_are_cut_at_the_header_read_timeout,
    idle_keep_alive_connection_is_closed,
    slow_body_is_408_at_the_body_read_timeout,
    connections_over_the_cap_wait_for_a_free_slot,
    shutdown_does_not_wait_for_idle_connections,
);

/// A bound on how long any single step of these tests may take; never a synchronisation.
const BOUND: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect to the server")
}

/// Reads until the server closes; the bound only keeps a hang from lasting forever.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past {BOUND:?}"
    );
    String::from_utf8_lossy(&out).into_owned()
}

async fn authority_form_target_is_400_and_the_server_carries_on(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    for request in [
        "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    ] {
        let mut stream = connect(&app).await;
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let answer = read_until_closed(&mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "{request:?} must be answered 400, got: {answer:?}"
        );
        assert!(
            answer
                .ends_with(r#"{"detail":"The request target must be a path, such as /products"}"#),
            "{answer}"
        );
    }
    // `OPTIONS *` (asterisk-form) has a target that is no route: 404, no panic either.
    let mut stream = connect(&app).await;
    stream
        .write_all(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    app.get("/health").await.expect_json(200);
    app.stop().await;
}

async fn slow_headers_are_cut_at_the_header_read_timeout(backend: Backend) {
    let timeout = Duration::from_secs(1);
    let app = spawn_app_with(backend, |s| {
        s.header_read_timeout = timeout;
        s.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut stream = connect(&app).await;
    let head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    let mut sent = 0;
    let mut closed = false;
    // The attack itself: one byte every 100 ms, so the head takes longer than the timeout.
    for byte in head.iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        sent += 1;
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!(
                "an unfinished head was answered: {:?}",
                String::from_utf8_lossy(&probe[..n])
            ),
            Err(_) => {}
        }
        assert!(started.elapsed() < BOUND, "never cut");
    }
    assert!(
        closed,
        "the whole head went through one byte at a time ({sent} bytes)"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout && sent < head.len(),
        "cut after {elapsed:?} and {sent} bytes"
    );
    // Other clients are served meanwhile and after.
    app.get("/health").await.expect_json(200);
    app.stop().await;
}

async fn idle_keep_alive_connection_is_closed(backend: Backend) {
    let idle = Duration::from_secs(1);
    let app = spawn_app_with(backend, |s| s.idle_timeout = idle).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "a keep-alive connection: {answer}"
    );
    // Kept alive, then closed once idle for the timeout: EOF, not a hang.
    let answered = Instant::now();
    let rest = read_until_closed(&mut stream).await;
    assert_eq!(rest, "", "nothing more is sent on an idle connection");
    assert!(
        answered.elapsed() >= idle - Duration::from_millis(100),
        "closed after {:?}, before the idle timeout",
        answered.elapsed()
    );

    // A connection that never sends anything is idle from the start.
    let mut silent = connect(&app).await;
    assert_eq!(read_until_closed(&mut silent).await, "");
    app.stop().await;
}

async fn slow_body_is_408_at_the_body_read_timeout(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /products HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 60\r\n\r\n{\"sku\": ",
        )
        .await
        .expect("send the head and a little of the body");
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"detail":"Request body not received in time"}"#),
        "{answer}"
    );
    assert_eq!(
        app.get("/products").await.expect_json(200),
        serde_json::json!([]),
        "nothing was created"
    );
    app.stop().await;
}

async fn connections_over_the_cap_wait_for_a_free_slot(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.max_connections = 2;
        s.header_read_timeout = Duration::from_secs(60);
        s.idle_timeout = Duration::from_secs(60);
    })
    .await;
    // Two connections hold both slots: each has had an answer and stays open.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("send");
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
            .await
            .expect("answered")
            .expect("read");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
        held.push(stream);
    }
    // A third client is not served while both are held ...
    let third = tokio::spawn({
        let api = app.api.clone();
        async move { api.get("/health").await.status }
    });
    let mut third = std::pin::pin!(third);
    let waited = tokio::time::timeout(Duration::from_millis(500), &mut third).await;
    assert!(
        waited.is_err(),
        "a third connection was served over MAX_CONNECTIONS=2"
    );
    // ... and is, as soon as one of them closes.
    drop(held.pop());
    let status = tokio::time::timeout(BOUND, &mut third)
        .await
        .expect("served once a slot was free")
        .expect("the request task");
    assert_eq!(status, 200);
    drop(held);
    app.stop().await;
}

async fn shutdown_does_not_wait_for_idle_connections(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.idle_timeout = Duration::from_secs(600)).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    // The connection is idle and kept alive: stopping closes it and returns.
    tokio::time::timeout(BOUND, app.stop())
        .await
        .expect("the server stopped despite an idle keep-alive connection");
    assert_eq!(read_until_closed(&mut stream).await, "");
}
