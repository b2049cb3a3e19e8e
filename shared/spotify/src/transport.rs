//! How every request of both clients (Spotify, ReccoBeats) is sent: one HTTP client with
//! its timeouts, each request bounded by the scope's deadline, and one retry loop
//! ([`Transport::send`]): `Retry-After` on 429, backoff with jitter on 5xx and connection
//! errors, one token refresh on 401, no retry that would pass the deadline. Also the
//! client-credentials token cache ([`Tokens`]), whose token request goes through the same
//! loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::RETRY_AFTER;
use reqwest::{RequestBuilder, StatusCode, Url};
use tokio::sync::Mutex;

use crate::config::{ClientSecret, RetryPolicy};
use crate::error::SpotifyError;
use crate::wire;

/// An HTTP client with its retry policy and call counters; one per API client.
pub(crate) struct Transport {
    http: reqwest::Client,
    request_timeout: Duration,
    retry: RetryPolicy,
    /// HTTP requests sent (retries included).
    calls: AtomicU64,
    /// Answers 429 received.
    rate_limited: AtomicU64,
}

/// How a request authenticates, which decides what a rejection means.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// Not at all (ReccoBeats): a 401 is final, like any other 4xx.
    Anonymous,
    /// With the cached access token: a 401 drops it, and the request is sent once more
    /// with a new one (not counted as an attempt).
    Bearer(&'a Tokens),
    /// With the client credentials (the token request): a 400, 401 or 403 rejects them.
    Credentials(&'a Tokens),
}

/// A non-success answer, classified.
enum Failure {
    /// 401: the token was rejected; refresh once and try again.
    Refresh(String),
    /// Worth another attempt, after `wait` (a `Retry-After`) or the backoff.
    Retry {
        error: SpotifyError,
        wait: Option<Duration>,
    },
    /// Final.
    Fatal(SpotifyError),
}

/// What one HTTP exchange returned.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<u64>,
    pub(crate) body: Vec<u8>,
}

impl Transport {
    /// A transport with these timeouts (and `User-Agent`, when given); fails only when
    /// the HTTP client cannot be built.
    pub(crate) fn new(
        request_timeout: Duration,
        connect_timeout: Duration,
        user_agent: Option<&str>,
        retry: RetryPolicy,
    ) -> Result<Self, SpotifyError> {
        let mut builder = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(connect_timeout);
        if let Some(user_agent) = user_agent {
            builder = builder.user_agent(user_agent);
        }
        let http = builder.build().map_err(|e| SpotifyError::Config {
            reason: format!("HTTP client: {e}"),
        })?;
        Ok(Self {
            http,
            request_timeout,
            retry,
            calls: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        })
    }

    /// HTTP requests sent so far (retries included).
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Answers 429 (rate limited) received so far.
    pub(crate) fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// Sends the request `request` builds, authenticated as `auth`, until it succeeds or
    /// the policy gives up: the successful answer, or the error of the last attempt.
    /// `endpoint` names the call in errors and logs.
    pub(crate) async fn send(
        &self,
        endpoint: &str,
        auth: Auth<'_>,
        request: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Answer, SpotifyError> {
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let (request, generation) = match auth {
                Auth::Anonymous => (request(&self.http), None),
                Auth::Bearer(tokens) => {
                    let (token, generation) = tokens.bearer(self).await?;
                    (request(&self.http).bearer_auth(token), Some(generation))
                }
                Auth::Credentials(tokens) => {
                    tokens.calls.fetch_add(1, Ordering::Relaxed);
                    let request = request(&self.http)
                        .basic_auth(&tokens.client_id, Some(tokens.client_secret.expose()));
                    (request, None)
                }
            };
            self.calls.fetch_add(1, Ordering::Relaxed);
            let failure = match self.receive(self.bounded(request).send().await).await {
                Ok(answer) if answer.status.is_success() => return Ok(answer),
                Ok(answer) => auth.classify(&answer, endpoint, &self.retry),
                Err(source) => transport(endpoint, source),
            };
            match (failure, auth, generation) {
                (Failure::Refresh(_), Auth::Bearer(tokens), Some(generation)) if !refreshed => {
                    refreshed = true;
                    attempt -= 1;
                    tracing::info!(endpoint = %endpoint, "access token rejected; getting a new one");
                    tokens.invalidate(generation).await;
                }
                (failure, ..) => settle(&self.retry, failure, endpoint, attempt).await?,
            }
        }
    }

    /// The request with its timeout cut to the time left before the scope's deadline.
    fn bounded(&self, request: RequestBuilder) -> RequestBuilder {
        match crate::deadline::remaining() {
            Some(left) if left < self.request_timeout => request.timeout(left),
            _ => request,
        }
    }

    /// Reads the answer of a sent request, counting rate limits.
    async fn receive(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Answer, reqwest::Error> {
        let answer = receive(sent).await?;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        Ok(answer)
    }
}

impl Auth<'_> {
    /// A non-success answer, classified for a request authenticated this way.
    fn classify(self, answer: &Answer, endpoint: &str, policy: &RetryPolicy) -> Failure {
        match self {
            Self::Anonymous => match classify(answer, endpoint, policy) {
                // No token here: a 401 is final.
                Failure::Refresh(message) => Failure::Fatal(SpotifyError::Http {
                    endpoint: endpoint.to_owned(),
                    status: 401,
                    message,
                }),
                other => other,
            },
            Self::Bearer(_) => classify(answer, endpoint, policy),
            Self::Credentials(_) if matches!(answer.status.as_u16(), 400 | 401 | 403) => {
                let (message, _) = wire::ErrorBody::parse(&answer.body);
                Failure::Fatal(SpotifyError::Unauthorized { message })
            }
            Self::Credentials(_) => classify(answer, endpoint, policy),
        }
    }
}

/// The client-credentials token shared by every call of a client: fetched when first
/// needed and again shortly before it expires or after a call found it rejected.
pub(crate) struct Tokens {
    url: Url,
    client_id: String,
    client_secret: ClientSecret,
    slot: Mutex<TokenSlot>,
    /// Token requests sent (retries included).
    calls: AtomicU64,
}

/// The cached token and a generation number bumped on every refresh, so that of many
/// calls rejected with the same token only the first clears it.
#[derive(Default)]
struct TokenSlot {
    token: Option<CachedToken>,
    generation: u64,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

impl Tokens {
    /// Tokens from the token endpoint `url`, for these client credentials.
    pub(crate) fn new(url: Url, client_id: String, client_secret: ClientSecret) -> Self {
        Self {
            url,
            client_id,
            client_secret,
            slot: Mutex::new(TokenSlot::default()),
            calls: AtomicU64::new(0),
        }
    }

    /// Token requests sent so far.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// A valid access token and its generation: the cached one, or a new one fetched
    /// while holding the lock, so concurrent callers wait for one refresh.
    async fn bearer(&self, transport: &Transport) -> Result<(String, u64), SpotifyError> {
        let mut slot = self.slot.lock().await;
        if let Some(token) = &slot.token {
            if Instant::now() < token.refresh_at {
                return Ok((token.value.clone(), slot.generation));
            }
        }
        // Boxed: the token request goes through the retry loop that asks for tokens.
        let fresh = Box::pin(self.fetch(transport)).await?;
        let value = fresh.value.clone();
        slot.token = Some(fresh);
        slot.generation += 1;
        Ok((value, slot.generation))
    }

    /// Drops the cached token if it is still the one of `generation`.
    async fn invalidate(&self, generation: u64) {
        let mut slot = self.slot.lock().await;
        if slot.generation == generation {
            slot.token = None;
        }
    }

    /// `POST /api/token` with the client credentials, retried like any call; a rejection
    /// of the credentials is [`SpotifyError::Unauthorized`].
    async fn fetch(&self, transport: &Transport) -> Result<CachedToken, SpotifyError> {
        let endpoint = self.url.path();
        let answer = transport
            .send(endpoint, Auth::Credentials(self), |http| {
                http.post(self.url.clone())
                    .form(&[("grant_type", "client_credentials")])
            })
            .await?;
        let token: wire::TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|source| SpotifyError::Decode {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        if token
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(SpotifyError::Unauthorized {
                message: "token type is not Bearer".into(),
            });
        }
        let lifetime = Duration::from_secs(token.expires_in);
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        Ok(CachedToken {
            value: token.access_token,
            refresh_at: Instant::now() + lifetime - margin,
        })
    }
}

/// Returns the error of a final failure, or waits before the next attempt.
async fn settle(
    policy: &RetryPolicy,
    failure: Failure,
    endpoint: &str,
    attempt: u32,
) -> Result<(), SpotifyError> {
    match failure {
        Failure::Retry { error, wait } if attempt < policy.max_attempts => {
            let delay = wait.unwrap_or_else(|| backoff(policy, attempt));
            if let Some(left) = crate::deadline::remaining().filter(|left| delay >= *left) {
                tracing::warn!(
                    endpoint,
                    attempt,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "call failed; no time left to retry before the deadline"
                );
                return Err(SpotifyError::Deadline {
                    endpoint: endpoint.to_owned(),
                    wait: delay,
                    left,
                    cause: error.to_string(),
                });
            }
            tracing::warn!(
                endpoint,
                attempt,
                max_attempts = policy.max_attempts,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            Ok(())
        }
        Failure::Retry { error, .. } | Failure::Fatal(error) => Err(error),
        Failure::Refresh(message) => Err(SpotifyError::Unauthorized { message }),
    }
}

/// Reads the status, `Retry-After` and body of a sent request.
async fn receive(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Answer, reqwest::Error> {
    let response = sent?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = response.bytes().await?.to_vec();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A request that got no answer: worth another attempt after the backoff.
fn transport(endpoint: &str, source: reqwest::Error) -> Failure {
    Failure::Retry {
        error: SpotifyError::Transport {
            endpoint: endpoint.to_owned(),
            source: source.without_url(),
        },
        wait: None,
    }
}

/// Sorts a non-success answer: 401 refresh; 429 wait `Retry-After` (unless too long or
/// the quota is exhausted); 5xx retry; 403 unavailable; the rest final.
fn classify(answer: &Answer, endpoint: &str, policy: &RetryPolicy) -> Failure {
    let (message, reason) = wire::ErrorBody::parse(&answer.body);
    let endpoint = endpoint.to_owned();
    let status = answer.status.as_u16();
    match answer.status {
        StatusCode::UNAUTHORIZED => Failure::Refresh(message),
        StatusCode::TOO_MANY_REQUESTS => {
            if reason.as_deref() == Some("QUOTA_EXCEEDED") {
                return Failure::Fatal(SpotifyError::QuotaExceeded { endpoint });
            }
            let retry_after = Duration::from_secs(answer.retry_after.unwrap_or(1));
            let error = SpotifyError::RateLimited {
                endpoint,
                retry_after,
            };
            if retry_after > policy.max_retry_after {
                Failure::Fatal(error)
            } else {
                Failure::Retry {
                    error,
                    wait: Some(retry_after),
                }
            }
        }
        StatusCode::FORBIDDEN => Failure::Fatal(SpotifyError::Unavailable { endpoint, status }),
        s if s.is_server_error() => Failure::Retry {
            error: SpotifyError::Http {
                endpoint,
                status,
                message,
            },
            wait: None,
        },
        _ => Failure::Fatal(SpotifyError::Http {
            endpoint,
            status,
            message,
        }),
    }
}

/// Exponential backoff with jitter: `base × 2^(attempt-1)`, capped, then a random point
/// in its upper half (so concurrent clients spread out but never retry at once).
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let ceiling = policy
        .base_delay
        .saturating_mul(1 << exponent)
        .min(policy.max_delay);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(ceiling_ms / 2..=ceiling_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = backoff(&policy, 1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = backoff(&policy, 3);
            assert!(
                third >= Duration::from_millis(175) && third <= Duration::from_millis(350),
                "{third:?}"
            );
            assert!(backoff(&policy, 40) <= Duration::from_millis(350));
        }
    }

    #[test]
    fn classifies_answers() {
        let policy = RetryPolicy::default();
        let answer = |status: u16, retry_after: Option<u64>, body: &str| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after,
            body: body.as_bytes().to_vec(),
        };
        let quota =
            r#"{"error":{"status":429,"message":"Too many requests","reason":"QUOTA_EXCEEDED"}}"#;
        assert!(matches!(
            classify(&answer(429, Some(1), quota), "/x", &policy),
            Failure::Fatal(SpotifyError::QuotaExceeded { .. })
        ));
        assert!(matches!(
            classify(&answer(429, Some(2), "{}"), "/x", &policy),
            Failure::Retry { wait: Some(w), .. } if w == Duration::from_secs(2)
        ));
        assert!(matches!(
            classify(&answer(429, Some(3600), "{}"), "/x", &policy),
            Failure::Fatal(SpotifyError::RateLimited { .. })
        ));
        assert!(matches!(
            classify(&answer(503, None, ""), "/x", &policy),
            Failure::Retry { wait: None, .. }
        ));
        assert!(matches!(
            classify(&answer(401, None, ""), "/x", &policy),
            Failure::Refresh(_)
        ));
        assert!(matches!(
            classify(&answer(403, None, ""), "/x", &policy),
            Failure::Fatal(SpotifyError::Unavailable { .. })
        ));
        let bad = r#"{"error":{"status":400,"message":"Invalid limit"}}"#;
        assert!(matches!(
            classify(&answer(400, None, bad), "/x", &policy),
            Failure::Fatal(SpotifyError::Http { status: 400, message, .. }) if message == "Invalid limit"
        ));
    }
}
