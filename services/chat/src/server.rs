//! The local HTTP server: axum `POST /skill` over [`handle_http`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::http::{handle_http, RawBody, SkillEndpoint, JSON_CONTENT_TYPE, MAX_BODY_BYTES};
use crate::secret::SecretGuard;
use crate::stores::ChatPorts;

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

/// The router serving `POST /skill`.
pub fn router<S: ChatPorts>(endpoint: Arc<SkillEndpoint<S>>) -> Router {
    Router::new()
        .route(SKILL_PATH, post(skill::<S>))
        .with_state(endpoint)
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
pub async fn serve<S: ChatPorts>(
    listener: TcpListener,
    endpoint: Arc<SkillEndpoint<S>>,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    check_exposure(&endpoint.guard, addr)?;
    info!(%addr, path = SKILL_PATH, "skill endpoint listening");
    axum::serve(listener, router(endpoint)).await?;
    Ok(())
}

async fn skill<S: ChatPorts>(
    State(endpoint): State<Arc<SkillEndpoint<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Reads at most one byte past the limit; any read failure counts as oversized, the only
    // failure a client can cause that still gets an answer.
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await;
    let raw = match &bytes {
        Ok(bytes) => RawBody::Complete(bytes),
        Err(_) => RawBody::Oversized,
    };
    let reply = handle_http(&endpoint, &headers, raw).await;
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
