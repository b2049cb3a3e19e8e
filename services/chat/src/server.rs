//! The local HTTP server: axum `POST /skill` over [`handle_http`], served with bounded
//! connections ([`serve_bounded`]: header and body read timeouts, a connection cap) and
//! state-changing routes behind [`guarded`] (secret and content type checked on the
//! headers, before any body byte is read).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::http::{
    check_secret, handle_http, HttpReply, RawBody, SkillEndpoint, JSON_CONTENT_TYPE, MAX_BODY_BYTES,
};
use crate::secret::SecretGuard;

/// How long a client may take to send a request's headers (also how long an idle
/// keep-alive connection stays open).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body once its headers are in.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; a connection past the cap is closed at once.
pub const MAX_CONNECTIONS: usize = 512;
/// How long a graceful shutdown waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub body_read: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    /// [`HEADER_READ_TIMEOUT`], [`BODY_READ_TIMEOUT`] and [`MAX_CONNECTIONS`].
    fn default() -> Self {
        Self {
            header_read: HEADER_READ_TIMEOUT,
            body_read: BODY_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// The path Kakao's skill URL points at.
pub const SKILL_PATH: &str = "/skill";

/// Why the local server did not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the skill endpoint needs a secret (ENCORE_SKILL_SECRET) to listen on {0}, which is not loopback")]
    SecretRequired(SocketAddr),
    #[error("the skill server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The router serving `POST /skill`, [`guarded`] by the endpoint's secret.
pub fn router(endpoint: Arc<SkillEndpoint>) -> Router {
    router_with(endpoint, BODY_READ_TIMEOUT)
}

/// [`router`] with the body read timeout `body_read`.
pub fn router_with(endpoint: Arc<SkillEndpoint>, body_read: Duration) -> Router {
    let guard = endpoint.guard.clone();
    let routes = Router::new()
        .route(SKILL_PATH, post(skill))
        .with_state(endpoint);
    guarded(routes, guard, body_read)
}

/// Puts every route of `routes` (state-changing POSTs) behind three checks, in this
/// order: the secret `guard` requires (401), a JSON content type (415: a browser page
/// cannot send one cross-origin without a preflight this server never answers), and the
/// whole body within `body_read` (408) and [`MAX_BODY_BYTES`] (413). The first two look
/// only at the headers, so nobody without the secret gets a body read.
pub fn guarded(routes: Router, guard: SecretGuard, body_read: Duration) -> Router {
    routes
        .route_layer(middleware::from_fn_with_state(body_read, read_body))
        .route_layer(middleware::from_fn(require_json))
        .route_layer(middleware::from_fn_with_state(guard, require_secret))
}

/// Puts every route of `routes` (read-only GETs such as a status page) behind the secret
/// `guard` requires (401) and nothing else: they take no body.
pub fn secret_only(routes: Router, guard: SecretGuard) -> Router {
    routes.route_layer(middleware::from_fn_with_state(guard, require_secret))
}

/// A reply as an axum response with the JSON content type.
fn respond(reply: HttpReply) -> Response {
    (
        reply.status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        )],
        reply.body,
    )
        .into_response()
}

async fn require_secret(
    State(guard): State<SecretGuard>,
    request: Request,
    next: Next,
) -> Response {
    match check_secret(&guard, request.headers()) {
        Some(unauthorized) => respond(unauthorized),
        None => next.run(request).await,
    }
}

/// True when `headers` say the body is JSON (`application/json`, any parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

async fn require_json(request: Request, next: Next) -> Response {
    if is_json(request.headers()) {
        return next.run(request).await;
    }
    respond(HttpReply::rejection(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "the body must be JSON (content-type: application/json)",
    ))
}

/// Reads the whole body within `limit` (at most one byte past [`MAX_BODY_BYTES`]) before
/// the handler runs; a slow client gets 408 and its connection closed.
async fn read_body(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY_BYTES + 1)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // The only read failure a client causes that still gets an answer: too much.
        Ok(Err(_)) => respond(HttpReply::rejection(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the body must be at most {MAX_BODY_BYTES} bytes"),
        )),
        Err(_) => {
            debug!(
                seconds = limit.as_secs_f64(),
                "closed a connection whose body did not arrive in time"
            );
            let mut response = respond(HttpReply::rejection(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the body did not arrive in time",
            ));
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then lets open
/// connections finish (for a bounded time). Each connection's headers must arrive within
/// the header timeout; a connection past the cap is closed at once.
pub async fn serve_bounded(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    warn!(reason = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, cap = limits.max_connections, "refused a connection past the cap");
            drop(stream);
            continue;
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                debug!(%peer, reason = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}

/// Checks the secret policy for `addr`: without a secret, only loopback is allowed (and
/// said so in the log).
pub fn check_exposure(guard: &SecretGuard, addr: SocketAddr) -> Result<(), ServeError> {
    match guard {
        SecretGuard::Required(_) => Ok(()),
        SecretGuard::Disabled if addr.ip().is_loopback() => {
            warn!(%addr, "the skill endpoint runs WITHOUT a secret; allowed only because it listens on loopback");
            Ok(())
        }
        SecretGuard::Disabled => Err(ServeError::SecretRequired(addr)),
    }
}

/// Serves the skill endpoint on `listener` until the server fails.
pub async fn serve(listener: TcpListener, endpoint: Arc<SkillEndpoint>) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    check_exposure(&endpoint.guard, addr)?;
    info!(%addr, path = SKILL_PATH, "skill endpoint listening");
    serve_bounded(
        listener,
        router(endpoint),
        ConnectionLimits::default(),
        std::future::pending(),
    )
    .await?;
    Ok(())
}

async fn skill(
    State(endpoint): State<Arc<SkillEndpoint>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // [`read_body`] already holds the whole body; reading it again cannot wait or fail
    // other than by size.
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await;
    let raw = match &bytes {
        Ok(bytes) => RawBody::Complete(bytes),
        Err(_) => RawBody::Oversized,
    };
    respond(handle_http(&endpoint, &headers, raw).await)
}
