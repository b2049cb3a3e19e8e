//! The local skill server under slow and greedy clients, over real TCP on 127.0.0.1:
//! half-sent headers and bodies are cut off within the read timeouts, the secret is
//! checked before any body byte is read, only JSON is accepted, and connections past the
//! cap are refused while the admitted ones are served.

use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_chat::server::{router_with, serve, serve_bounded, ConnectionLimits, SKILL_PATH};
use encore_chat::{Chat, ChatSettings, SecretGuard, SkillEndpoint, SkillSecret, Stores};
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_store::sqlite::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "a-test-secret-of-enough-length";

type Endpoint = SkillEndpoint;

async fn endpoint(guard: SecretGuard) -> Arc<Endpoint> {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let chat = Chat::new(
        Stores::shared(store, Arc::new(EmbeddedBus::new())),
        ChatSettings::default(),
    );
    Arc::new(SkillEndpoint::new(chat, guard))
}

fn secured() -> SecretGuard {
    SecretGuard::Required(SkillSecret::new(SECRET).unwrap())
}

/// Reads until the server closes the connection or `within` passes; what it sent, and
/// whether it closed in time.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

/// A request head for `POST /skill` announcing a body of `length` bytes.
fn head(secret: Option<&str>, content_type: &str, length: usize) -> String {
    let secret = secret
        .map(|s| format!("X-Encore-Skill-Secret: {s}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {SKILL_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n{secret}Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn the_default_server_cuts_off_half_sent_headers_and_checks_the_secret_first() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, endpoint(secured()).await));

    // Headers never finished: closed within the header timeout (10 s), not held.
    let started = Instant::now();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /skill HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // Without the secret, a body that never comes is not waited for: 401 at once.
    let mut unauthorized = TcpStream::connect(addr).await.unwrap();
    unauthorized
        .write_all(head(None, "application/json", 1000).as_bytes())
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut unauthorized, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");

    let (_, closed) = read_until_closed(&mut stalled, Duration::from_secs(15)).await;
    assert!(closed, "a connection with half-sent headers was held");
    assert!(started.elapsed() < Duration::from_secs(14));
}

#[tokio::test]
async fn slow_bodies_time_out_and_connections_past_the_cap_are_refused() {
    let limits = ConnectionLimits {
        header_read: Duration::from_millis(400),
        body_read: Duration::from_millis(400),
        max_connections: 3,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router_with(endpoint(secured()).await, limits.body_read);
    tokio::spawn(serve_bounded(listener, app, limits, std::future::pending()));

    // A body that stops halfway: 408 and closed within the body timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(head(Some(SECRET), "application/json", 100).as_bytes())
        .await
        .unwrap();
    slow.write_all(b"{\"userRequest\":").await.unwrap();
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(closed, "a connection with a half-sent body was held");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");

    // Not JSON: 415 before the body is read.
    let mut text = TcpStream::connect(addr).await.unwrap();
    text.write_all(head(Some(SECRET), "text/plain", 1000).as_bytes())
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut text, Duration::from_millis(300)).await;
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer:?}");
    drop(text);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Three idle connections fill the cap; a fourth is closed at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"POST /skill HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut excess = TcpStream::connect(addr).await.unwrap();
    let (answer, closed) = read_until_closed(&mut excess, Duration::from_millis(200)).await;
    assert!(
        closed && answer.is_empty(),
        "a connection past the cap was admitted: {answer:?}"
    );

    // Once the idle ones time out, the server answers again.
    for stream in &mut held {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(2)).await;
        assert!(closed, "an idle connection outlived the header timeout");
    }
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"userRequest":{"utterance":"   ","user":{"id":"u1"}}}"#;
    fresh
        .write_all(
            format!(
                "{}{body}",
                head(Some(SECRET), "application/json", body.len())
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), fresh.read_exact(&mut answer))
        .await
        .expect("the server answers after the idle connections went")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
}
