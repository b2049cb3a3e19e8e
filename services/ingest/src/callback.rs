//! Completing a Kakao answer through the request's one-time `callbackUrl`.
//!
//! The URL comes from an event, so it is never trusted: only hosts on an allow-list (by
//! default `*.kakao.com`, over HTTPS) are posted to. Kakao accepts the callback for one
//! minute after the user's message; later posts are skipped. The allow-list is the
//! chat's own ([`CallbackHosts`]), so both services trust the same hosts. A failed callback is logged
//! and never fails the ingest: the data is stored either way.

use std::time::Duration;

use chrono::{DateTime, Utc};
use encore_kakao::callback::{CallbackHosts, CALLBACK_VALIDITY};
use encore_kakao::{RelatedDue, SkillResponse};
use url::Url;

/// Longest a single callback POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// How a callback attempt ended (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Kakao (or the test server) accepted the answer.
    Delivered,
    /// The URL is not on the allow-list: nothing was sent.
    Refused,
    /// The one-minute validity had passed: nothing was sent.
    Expired,
    /// The POST failed; the reason is logged.
    Failed(String),
}

/// Posts finished answers to callback URLs.
#[derive(Debug, Clone)]
pub struct Callbacks {
    http: reqwest::Client,
    allowed: CallbackHosts,
    related_due: RelatedDue,
}

impl Callbacks {
    /// A sender restricted to `allowed` hosts.
    pub fn new(allowed: CallbackHosts) -> Self {
        let http = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            allowed,
            related_due: RelatedDue::NextRun,
        }
    }

    /// These callbacks, saying that an artist without similar artists yet gets them
    /// `due` (the default: at the next run).
    pub fn with_related_due(self, due: RelatedDue) -> Self {
        Self {
            related_due: due,
            ..self
        }
    }

    /// When the answers sent say an artist's similar artists appear.
    pub fn related_due(&self) -> RelatedDue {
        self.related_due
    }

    /// The allow-list in force.
    pub fn allowed(&self) -> &CallbackHosts {
        &self.allowed
    }

    /// Posts `answer` to `url` if it is allowed and the request (made at `requested_at`) is
    /// still within Kakao's validity window.
    pub async fn send(
        &self,
        url: &str,
        requested_at: DateTime<Utc>,
        answer: &SkillResponse,
    ) -> CallbackOutcome {
        let Some(url) = self.allowed.check(url) else {
            tracing::warn!(
                host = url_host(url).as_deref().unwrap_or("?"),
                "callback URL not allowed; not posted"
            );
            return CallbackOutcome::Refused;
        };
        let elapsed = (Utc::now() - requested_at).to_std().unwrap_or_default();
        let Some(remaining) = CALLBACK_VALIDITY
            .checked_sub(elapsed)
            .filter(|r| !r.is_zero())
        else {
            tracing::warn!(
                elapsed_ms = elapsed.as_millis() as u64,
                "callback window passed; not posted"
            );
            return CallbackOutcome::Expired;
        };
        let result = self
            .http
            .post(url.clone())
            .timeout(remaining.min(POST_TIMEOUT))
            .json(answer)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        match result {
            Ok(_) => {
                tracing::info!(host = url.host_str().unwrap_or("?"), "callback delivered");
                CallbackOutcome::Delivered
            }
            Err(err) => {
                let reason = err.without_url().to_string();
                tracing::warn!(host = url.host_str().unwrap_or("?"), %reason, "callback failed");
                CallbackOutcome::Failed(reason)
            }
        }
    }
}

/// The host of a URL for logs (the path carries Kakao's one-time token: never logged).
fn url_host(raw: &str) -> Option<String> {
    Url::parse(raw).ok()?.host_str().map(str::to_owned)
}
