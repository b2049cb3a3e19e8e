//! Which callback URLs may be used. `userRequest.callbackUrl` arrives in the request body,
//! so it is never trusted: only hosts on an allow-list (by default `*.kakao.com`, where
//! Kakao's `bot-api.kakao.com` lives) over HTTPS are passed on and posted to (SSRF guard).

use url::Url;

/// The hosts allowed by default.
pub const DEFAULT_CALLBACK_HOSTS: &str = "*.kakao.com";

/// How long Kakao keeps a callback URL valid after the user's message (it is usable once).
pub const CALLBACK_VALIDITY: std::time::Duration = std::time::Duration::from_secs(60);

/// How long after the user's message ingest may work on a request with a callback before
/// it answers "still looking" through the callback instead (leaving time for the POST
/// within [`CALLBACK_VALIDITY`]).
pub const STILL_LOOKING_AFTER: std::time::Duration = std::time::Duration::from_secs(50);

/// Hosts a callback may point to: `*.example.com` (any subdomain, never the bare
/// look-alike `evilexample.com`) or an exact host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackHosts {
    patterns: Vec<String>,
}

/// Why a host list is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackHostsError {
    #[error("the list names no host")]
    Empty,
    #[error("{0:?} is not a host name or *.domain")]
    NotAHost(String),
}

impl CallbackHosts {
    /// Parses a comma-separated list such as `*.kakao.com,callback.example.org`.
    pub fn parse(list: &str) -> Result<Self, CallbackHostsError> {
        let patterns: Vec<String> = list
            .split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        if patterns.is_empty() {
            return Err(CallbackHostsError::Empty);
        }
        if let Some(bad) = patterns.iter().find(|p| {
            p.trim_start_matches("*.")
                .contains(['*', '/', ':', '@', ' '])
        }) {
            return Err(CallbackHostsError::NotAHost(bad.clone()));
        }
        Ok(Self { patterns })
    }

    /// The URL, parsed, if it may be used: an allowed host, no user info, HTTPS (plain
    /// HTTP only for loopback hosts, which local runs and tests use).
    pub fn check(&self, raw: &str) -> Option<Url> {
        let url = Url::parse(raw).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        let allowed = self
            .patterns
            .iter()
            .any(|pattern| match pattern.strip_prefix("*.") {
                Some(domain) => {
                    host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}"))
                }
                None => host == *pattern,
            });
        let no_user_info = url.username().is_empty() && url.password().is_none();
        (scheme_ok && allowed && no_user_info).then_some(url)
    }

    /// True when [`check`](Self::check) accepts `raw`.
    pub fn allows(&self, raw: &str) -> bool {
        self.check(raw).is_some()
    }
}

impl Default for CallbackHosts {
    fn default() -> Self {
        Self {
            patterns: vec![DEFAULT_CALLBACK_HOSTS.to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_kakao_and_refuses_lookalikes() {
        let hosts = CallbackHosts::default();
        assert!(hosts.allows("https://bot-api.kakao.com/v1/bots/x/callback/y"));
        assert!(hosts.allows("https://BOT-API.kakao.com:443/cb"));
        for url in [
            "http://bot-api.kakao.com/cb",
            "https://kakao.com/cb",
            "https://evilkakao.com/cb",
            "https://kakao.com.evil.net/cb",
            "https://bot-api.kakao.com@evil.net/cb",
            "https://user@bot-api.kakao.com/cb",
            "https://evil.net/?u=https://bot-api.kakao.com",
            "not a url",
            "",
        ] {
            assert!(!hosts.allows(url), "{url} was allowed");
        }
    }

    #[test]
    fn parses_lists() {
        let hosts = CallbackHosts::parse(" callback.example.org , *.kakao.com,127.0.0.1").unwrap();
        assert!(hosts.allows("https://callback.example.org/x"));
        assert!(!hosts.allows("https://a.callback.example.org/x"));
        assert!(hosts.allows("http://127.0.0.1:8080/cb"));
        assert!(!hosts.allows("http://callback.example.org/x"));
        assert_eq!(CallbackHosts::parse(" , "), Err(CallbackHostsError::Empty));
        assert!(matches!(
            CallbackHosts::parse("https://x.com"),
            Err(CallbackHostsError::NotAHost(_))
        ));
    }
}
