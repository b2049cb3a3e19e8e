//! Completing a Kakao answer through the request's one-time `callbackUrl`.
//!
//! The URL comes from an event, so it is never trusted: only hosts on an allow-list (by
//! default `*.kakao.com`, over HTTPS) are posted to. Kakao accepts the callback for one
//! minute after the user's message; later posts are skipped. A failed callback is logged
//! and never fails the ingest: the data is stored either way.

use std::time::Duration;

use chrono::{DateTime, Utc};
use encore_kakao::SkillResponse;
use url::Url;

/// How long Kakao keeps a callback URL valid after the user's message.
pub const CALLBACK_VALIDITY: Duration = Duration::from_secs(60);
/// The hosts allowed by default.
pub const DEFAULT_ALLOWED_HOSTS: &str = "*.kakao.com";
/// Longest a single callback POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Hosts a callback may be posted to: `*.example.com` (any subdomain, never the bare
/// look-alike `evilexample.com`) or an exact host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<String>,
}

impl AllowedHosts {
    /// Parses a comma-separated list such as `*.kakao.com,callback.example.org`.
    pub fn parse(list: &str) -> Self {
        let patterns = list
            .split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        Self { patterns }
    }

    /// The URL, parsed, if it may be posted to: an allowed host, HTTPS (plain HTTP only
    /// for loopback hosts, which tests use).
    pub fn check(&self, raw: &str) -> Option<Url> {
        let url = Url::parse(raw).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        let loopback = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        let allowed = self.patterns.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
            None => host == *pattern,
        });
        (scheme_ok && allowed && url.username().is_empty()).then_some(url)
    }
}

impl Default for AllowedHosts {
    fn default() -> Self {
        Self::parse(DEFAULT_ALLOWED_HOSTS)
    }
}

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
    allowed: AllowedHosts,
}

impl Callbacks {
    /// A sender restricted to `allowed` hosts.
    pub fn new(allowed: AllowedHosts) -> Self {
        let http = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http, allowed }
    }

    /// The allow-list in force.
    pub fn allowed(&self) -> &AllowedHosts {
        &self.allowed
    }

    /// Posts `answer` to `url` if it is allowed and the request (made at `requested_at`) is
    /// still within Kakao's validity window.
    pub async fn send(&self, url: &str, requested_at: DateTime<Utc>, answer: &SkillResponse) -> CallbackOutcome {
        let Some(url) = self.allowed.check(url) else {
            tracing::warn!(host = url_host(url).as_deref().unwrap_or("?"), "callback URL not allowed; not posted");
            return CallbackOutcome::Refused;
        };
        let elapsed = (Utc::now() - requested_at).to_std().unwrap_or_default();
        let Some(remaining) = CALLBACK_VALIDITY.checked_sub(elapsed).filter(|r| !r.is_zero()) else {
            tracing::warn!(elapsed_ms = elapsed.as_millis() as u64, "callback window passed; not posted");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        let allowed = AllowedHosts::default();
        assert!(allowed.check("https://bot-api.kakao.com/v1/callback/x").is_some());
        assert!(allowed.check("http://bot-api.kakao.com/v1/callback/x").is_none());
        assert!(allowed.check("https://kakao.com.evil.org/x").is_none());
        assert!(allowed.check("https://evilkakao.com/x").is_none());
        assert!(allowed.check("https://user@bot-api.kakao.com/x").is_none());
        assert!(allowed.check("not a url").is_none());
        let local = AllowedHosts::parse("127.0.0.1, *.kakao.com");
        assert!(local.check("http://127.0.0.1:8080/cb").is_some());
        assert!(local.check("http://10.0.0.1/cb").is_none());
    }
}
