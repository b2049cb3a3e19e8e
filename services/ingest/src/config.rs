//! The ingest Lambda's configuration, read once at cold start.

use std::time::Duration;

use aws_config::SdkConfig;
use encore_platform::config::{keys, ConfigError, Env};
use encore_platform::secrets::{self, DatabaseUrl};

use crate::handler::{DEFAULT_ARTIST_BUDGET, DEFAULT_CONCURRENCY, DEFAULT_MAX_RECEIVES};
use encore_domain::release::LATEST_RELEASES_KEPT;
use encore_kakao::callback::{CallbackHosts, DEFAULT_CALLBACK_HOSTS};
use encore_kakao::RelatedDue;
use encore_spotify::FeatureSettings;

/// What the ingest Lambda needs to start, its secrets resolved (the database credentials
/// and the Spotify secret come from Secrets Manager, see `encore_platform::secrets`).
#[derive(Clone)]
pub struct Config {
    /// MySQL URL, with the credentials of `DATABASE_SECRET_ARN` filled in when that is set.
    pub database_url: DatabaseUrl,
    pub top_tracks_table: String,
    pub event_bus_name: String,
    pub spotify_client_id: String,
    pub spotify_client_secret: String,
    pub allowed_callback_hosts: CallbackHosts,
    pub concurrency: usize,
    pub releases_kept: usize,
    /// The time one artist needs; none starts with less left before the deadline.
    pub artist_budget: Duration,
    /// Deliveries before the queue dead-letters a message ([`keys::INGEST_MAX_RECEIVES`]).
    pub max_receives: u32,
    /// When a callback answer says an artist's similar artists appear.
    pub related_due: RelatedDue,
    /// The Spotify app's mode and the feature fallback.
    pub features: FeatureSettings,
    /// Each consumed queue's dead-letter queue ([`keys::DEAD_LETTER_QUEUES`], as
    /// `encore_messaging::sqs::DeadLetterRoutes` reads it); empty when not set.
    pub dead_letter_queues: String,
}

/// The Spotify mode and feature fallback from `ENCORE_SPOTIFY_MODE`,
/// `ENCORE_FEATURES_FALLBACK` and `ENCORE_RECCOBEATS_URL` (shared with the embedded runner).
pub fn feature_settings(env: &Env) -> Result<FeatureSettings, ConfigError> {
    Ok(FeatureSettings {
        mode: env.parse_or(keys::SPOTIFY_MODE, Default::default())?,
        fallback: env.parse_or(keys::FEATURES_FALLBACK, Default::default())?,
        reccobeats_base: env.optional(keys::RECCOBEATS_URL),
    })
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("top_tracks_table", &self.top_tracks_table)
            .field("event_bus_name", &self.event_bus_name)
            .field("allowed_callback_hosts", &self.allowed_callback_hosts)
            .field("concurrency", &self.concurrency)
            .field("releases_kept", &self.releases_kept)
            .field("artist_budget", &self.artist_budget)
            .field("max_receives", &self.max_receives)
            .field("features", &self.features)
            .field("related_due", &self.related_due)
            .field("dead_letter_queues", &self.dead_letter_queues)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the configuration and then the secrets (once), naming the first missing or
    /// invalid variable.
    pub async fn from_env(env: &Env, aws: &SdkConfig) -> Result<Self, ConfigError> {
        // Fields are read in the order written: the plain variables first, then the
        // secrets, so a missing variable is named before any secret is fetched.
        Ok(Self {
            top_tracks_table: env.required(keys::TOP_TRACKS_TABLE)?,
            event_bus_name: env.required(keys::EVENT_BUS_NAME)?,
            spotify_client_id: env.required(keys::SPOTIFY_CLIENT_ID)?,
            allowed_callback_hosts: CallbackHosts::parse(
                &env.optional(keys::CALLBACK_HOSTS)
                    .unwrap_or_else(|| DEFAULT_CALLBACK_HOSTS.to_owned()),
            )
            .map_err(|e| ConfigError::Invalid {
                key: keys::CALLBACK_HOSTS,
                reason: e.to_string(),
            })?,
            concurrency: env.parse_or(keys::INGEST_CONCURRENCY, DEFAULT_CONCURRENCY)?,
            releases_kept: env.parse_or(keys::LATEST_RELEASES_KEPT, LATEST_RELEASES_KEPT)?,
            artist_budget: Duration::from_secs(env.parse_or(
                keys::INGEST_ARTIST_BUDGET_SECS,
                DEFAULT_ARTIST_BUDGET.as_secs(),
            )?),
            max_receives: env.parse_or(keys::INGEST_MAX_RECEIVES, DEFAULT_MAX_RECEIVES)?,
            features: feature_settings(env)?,
            related_due: RelatedDue::from_minutes(
                env.parse_optional(keys::RELATED_WITHIN_MINUTES)?,
            ),
            dead_letter_queues: env.optional(keys::DEAD_LETTER_QUEUES).unwrap_or_default(),
            spotify_client_secret: secrets::resolve(
                env,
                aws,
                keys::SPOTIFY_CLIENT_SECRET,
                keys::SPOTIFY_CLIENT_SECRET_ARN,
            )
            .await?,
            database_url: secrets::database_url(env, aws).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spotify_mode_and_the_feature_fallback() {
        use encore_spotify::{FeaturesFallback, SpotifyMode};
        let env = Env::from_pairs([
            (keys::SPOTIFY_MODE, "development"),
            (keys::FEATURES_FALLBACK, "none"),
            (keys::RECCOBEATS_URL, "http://127.0.0.1:9/reccobeats"),
        ]);
        let features = feature_settings(&env).unwrap();
        assert_eq!(features.mode, SpotifyMode::Development);
        assert_eq!(features.fallback, FeaturesFallback::None);
        assert_eq!(
            features.reccobeats_base.as_deref(),
            Some("http://127.0.0.1:9/reccobeats")
        );
        let defaults = feature_settings(&Env::from_pairs([])).unwrap();
        assert_eq!(defaults.mode, SpotifyMode::Extended);
        assert_eq!(defaults.fallback, FeaturesFallback::Reccobeats);
        let bad = feature_settings(&Env::from_pairs([(keys::SPOTIFY_MODE, "sandbox")]));
        assert!(
            matches!(
                bad,
                Err(ConfigError::Invalid {
                    key: keys::SPOTIFY_MODE,
                    ..
                })
            ),
            "{bad:?}"
        );
    }

    #[tokio::test]
    async fn names_the_missing_variable_and_hides_secrets() {
        let aws = encore_platform::aws::for_endpoint("http://127.0.0.1:9").await;
        let err = Config::from_env(&Env::from_pairs([]), &aws)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                key: keys::TOP_TRACKS_TABLE
            }
        );
        let env = Env::from_pairs([
            (keys::TOP_TRACKS_TABLE, "top_tracks"),
            (keys::EVENT_BUS_NAME, "encore"),
            (keys::SPOTIFY_CLIENT_ID, "id"),
            (keys::INGEST_CONCURRENCY, "many"),
        ]);
        let err = Config::from_env(&env, &aws).await.unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    key: keys::INGEST_CONCURRENCY,
                    ..
                }
            ),
            "{err}"
        );
        let env = Env::from_pairs([
            (keys::TOP_TRACKS_TABLE, "top_tracks"),
            (keys::EVENT_BUS_NAME, "encore"),
            (keys::SPOTIFY_CLIENT_ID, "id"),
            (keys::SPOTIFY_CLIENT_SECRET, "very-secret"),
            (keys::DATABASE_URL, "mysql://encore:db-password@db/encore"),
        ]);
        let config = Config::from_env(&env, &aws).await.unwrap();
        assert_eq!(config.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(config.features, FeatureSettings::default());
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("db-password"), "{shown}");
    }
}
