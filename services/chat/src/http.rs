//! The skill endpoint at the HTTP level, shared by the Lambda adapter and the local axum
//! server: raw headers and body in, status and JSON body out.
//!
//! | request | status |
//! |---|---|
//! | missing or wrong `X-Encore-Skill-Secret` | 401 |
//! | body over [`MAX_BODY_BYTES`] | 413 |
//! | not UTF-8, not JSON, no `userRequest` with a string `utterance` and `user.id` | 400 with a reason |
//! | a skill request, whatever its other fields hold (see [`encore_kakao::request`]) | 200 with an answer, also when answering fails (a friendly text) |

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use encore_kakao::SkillRequest;
use serde_json::json;
use tracing::{debug, info_span, Instrument};

use crate::secret::{SecretGuard, SECRET_HEADER};
use crate::skill::{handle_skill, Chat};

/// Largest request body accepted. Kakao's payloads are 1–2 KB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The content type of every reply.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// The chat behind its secret check.
pub struct SkillEndpoint {
    pub chat: Chat,
    pub guard: SecretGuard,
}

impl SkillEndpoint {
    /// The endpoint answering with `chat` to requests `guard` admits.
    pub fn new(chat: Chat, guard: SecretGuard) -> Self {
        Self { chat, guard }
    }
}

/// A request body as the transport received it.
#[derive(Debug, Clone, Copy)]
pub enum RawBody<'a> {
    /// The whole body, at most [`MAX_BODY_BYTES`] or more (then rejected).
    Complete(&'a [u8]),
    /// The transport stopped reading past the limit.
    Oversized,
}

/// Status and JSON body of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl HttpReply {
    /// A `status` reply with the JSON `{"error": error, "reason": reason}`.
    pub fn rejection(status: StatusCode, error: &str, reason: &str) -> Self {
        let body = json!({ "error": error, "reason": reason }).to_string();
        Self {
            status,
            body: Bytes::from(body),
        }
    }

    /// 400 with `reason`: the body is not a skill request.
    pub fn bad_request(reason: &str) -> Self {
        Self::rejection(StatusCode::BAD_REQUEST, "invalid_request", reason)
    }
}

/// The 401 reply when `headers` lack the secret `guard` requires, else `None`.
pub fn check_secret(guard: &SecretGuard, headers: &HeaderMap) -> Option<HttpReply> {
    let presented = headers.get(SECRET_HEADER).map(|value| value.as_bytes());
    if guard.admits(presented) {
        return None;
    }
    debug!(
        present = presented.is_some(),
        "rejected a skill request without the right secret"
    );
    Some(HttpReply::rejection(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong skill secret",
    ))
}

/// Answers one HTTP request to the skill endpoint.
pub async fn handle_http(
    endpoint: &SkillEndpoint,
    headers: &HeaderMap,
    body: RawBody<'_>,
) -> HttpReply {
    if let Some(unauthorized) = check_secret(&endpoint.guard, headers) {
        return unauthorized;
    }
    let bytes = match body {
        RawBody::Complete(bytes) if bytes.len() <= MAX_BODY_BYTES => bytes,
        _ => {
            return HttpReply::rejection(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!("the body must be at most {MAX_BODY_BYTES} bytes"),
            )
        }
    };
    let request = match parse(bytes) {
        Ok(request) => request,
        Err(reason) => {
            debug!(?reason, "rejected a malformed skill request");
            return HttpReply::bad_request(&reason);
        }
    };
    let span = info_span!(
        "skill",
        bot = request.bot_id().unwrap_or_default(),
        block = request.block_id().unwrap_or_default()
    );
    let answer = handle_skill(&request, &endpoint.chat)
        .instrument(span)
        .await;
    HttpReply {
        status: StatusCode::OK,
        body: answer.body,
    }
}

/// The skill request in `bytes`, or why it is not one.
fn parse(bytes: &[u8]) -> Result<SkillRequest, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| format!("the body is not a Kakao skill request: {e}"))
}
