//! The chat service's configuration: what the Lambda reads at cold start, and the
//! tunables the local runner sets in code.

use std::time::Duration;

use aws_config::SdkConfig;
use encore_kakao::callback::CallbackHosts;
use encore_kakao::RelatedDue;
use encore_platform::config::{keys, ConfigError, Env};
use encore_platform::secrets::{self, DatabaseUrl};

use crate::secret::SkillSecret;

/// Seconds a rendered answer stays in the chat's in-memory cache (only the chat reads it;
/// the shared keys are in `encore_platform::config::keys`).
pub const CACHE_TTL_SECS: &str = "ENCORE_CHAT_CACHE_TTL_SECS";

/// The Lambda's configuration.
#[derive(Debug)]
pub struct Config {
    /// MySQL URL of the artists, aliases, related artists and pending requests, with the
    /// credentials of `DATABASE_SECRET_ARN` filled in when that is set.
    pub database_url: DatabaseUrl,
    /// DynamoDB table of the top-tracks cache.
    pub top_tracks_table: String,
    /// EventBridge bus `ArtistRequested` is published to.
    pub event_bus_name: String,
    /// The shared secret Kakao sends (`ENCORE_SKILL_SECRET`, or the Secrets Manager secret
    /// `ENCORE_SKILL_SECRET_ARN` names); the Lambda does not start without one.
    pub secret: SkillSecret,
    pub settings: ChatSettings,
}

impl Config {
    /// Reads the configuration (and the secrets, once), naming the variable that is
    /// missing or invalid.
    pub async fn from_env(env: &Env, aws: &SdkConfig) -> Result<Self, ConfigError> {
        let raw_secret =
            secrets::resolve(env, aws, keys::SKILL_SECRET, keys::SKILL_SECRET_ARN).await?;
        Ok(Self {
            database_url: secrets::database_url(env, aws).await?,
            top_tracks_table: env.required(keys::TOP_TRACKS_TABLE)?,
            event_bus_name: env.required(keys::EVENT_BUS_NAME)?,
            secret: SkillSecret::from_config(&raw_secret)?,
            settings: ChatSettings::from_env(env)?,
        })
    }
}

/// How the chat answers: cache lifetime, request dedup window, callback allow-list.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// How long a rendered answer is served from memory. Across Lambda instances this
    /// bounds how stale an answer can be after ingest writes or the datamart swaps.
    pub cache_ttl: Duration,
    /// Rendered answers kept at most.
    pub cache_capacity: usize,
    /// A request for the same name within this window is not published again.
    pub claim_window: Duration,
    /// How long ingest's "no such artist" stands: until then the name is answered "not
    /// found" at once and not requested again.
    pub not_found_retry_after: Duration,
    /// Hosts Kakao's callback URL may point to; others are not passed on.
    pub callback_hosts: CallbackHosts,
    /// When an artist without similar artists yet gets them, as its answer says.
    pub related_due: RelatedDue,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 10_000,
            claim_window: Duration::from_secs(5 * 60),
            not_found_retry_after: Duration::from_secs(24 * 60 * 60),
            callback_hosts: CallbackHosts::default(),
            related_due: RelatedDue::NextRun,
        }
    }
}

impl ChatSettings {
    /// The defaults, with the cache lifetime and callback hosts read from the environment
    /// when set.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let ttl = env.parse_or(CACHE_TTL_SECS, defaults.cache_ttl.as_secs())?;
        let callback_hosts = match env.optional(keys::CALLBACK_HOSTS) {
            Some(raw) => CallbackHosts::parse(&raw).map_err(|e| ConfigError::Invalid {
                key: keys::CALLBACK_HOSTS,
                reason: e.to_string(),
            })?,
            None => defaults.callback_hosts.clone(),
        };
        Ok(Self {
            cache_ttl: Duration::from_secs(ttl),
            callback_hosts,
            related_due: RelatedDue::from_minutes(
                env.parse_optional(keys::RELATED_WITHIN_MINUTES)?,
            ),
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn config_requires_the_secret_and_names_missing_keys() {
        let aws = encore_platform::aws::for_endpoint("http://127.0.0.1:9").await;
        let base = [
            (keys::DATABASE_URL, "mysql://db"),
            (keys::TOP_TRACKS_TABLE, "top_tracks"),
            (keys::EVENT_BUS_NAME, "encore"),
        ];
        let err = Config::from_env(&Env::from_pairs(base), &aws)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                key: keys::SKILL_SECRET
            }
        );
        let short = base.into_iter().chain([(keys::SKILL_SECRET, "short")]);
        let err = Config::from_env(&Env::from_pairs(short), &aws)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    key: keys::SKILL_SECRET,
                    ..
                }
            ),
            "{err}"
        );
        let with_secret = base
            .into_iter()
            .chain([(keys::SKILL_SECRET, "s3cret-value-long-enough")]);
        let config = Config::from_env(&Env::from_pairs(with_secret), &aws)
            .await
            .unwrap();
        assert_eq!(config.settings.cache_ttl, Duration::from_secs(60));
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "the secret leaks through Debug"
        );
    }

    #[test]
    fn settings_read_ttl_and_hosts() {
        let env = Env::from_pairs([(CACHE_TTL_SECS, "5"), (keys::CALLBACK_HOSTS, "127.0.0.1")]);
        let settings = ChatSettings::from_env(&env).unwrap();
        assert_eq!(settings.cache_ttl, Duration::from_secs(5));
        assert!(settings.callback_hosts.allows("http://127.0.0.1:1/cb"));
        let bad_ttl = Env::from_pairs([(CACHE_TTL_SECS, "soon")]);
        assert!(matches!(
            ChatSettings::from_env(&bad_ttl),
            Err(ConfigError::Invalid { .. })
        ));
        let bad_hosts = Env::from_pairs([(keys::CALLBACK_HOSTS, "https://x")]);
        assert!(matches!(
            ChatSettings::from_env(&bad_hosts),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
