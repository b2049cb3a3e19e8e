//! Typed configuration from environment variables, with errors that name the variable.
//!
//! Each service has one `Config` struct built by `Config::from_env()` on top of [`Env`];
//! the variable names are constants in [`keys`], defined once and listed in the README.

use std::collections::HashMap;
use std::str::FromStr;

/// A configuration problem, naming the variable so the operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {key}")]
    Missing { key: &'static str },
    #[error("environment variable {key} is invalid: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// A source of configuration values: the process environment, or a fixed map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<HashMap<String, String>>,
}

impl Env {
    /// Reads the process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// Reads only the given pairs (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            overrides: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
        }
    }

    /// The value of `key`, if set and not blank.
    pub fn optional(&self, key: &'static str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(key).cloned(),
            None => std::env::var(key).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The value of `key`, or an error naming it.
    pub fn required(&self, key: &'static str) -> Result<String, ConfigError> {
        self.optional(key).ok_or(ConfigError::Missing { key })
    }

    /// `key` parsed as `T`, or `default` when unset.
    pub fn parse_or<T>(&self, key: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    key,
                    reason: e.to_string(),
                }),
        }
    }

    /// `key` parsed as `T`, or `None` when unset.
    pub fn parse_optional<T>(&self, key: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.optional(key)
            .map(|_| self.parse_required(key))
            .transpose()
    }

    /// `key` parsed as `T`; an error when unset.
    pub fn parse_required<T>(&self, key: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let raw = self.required(key)?;
        raw.trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                key,
                reason: e.to_string(),
            })
    }
}

/// Every environment variable encore reads, defined once.
pub mod keys {
    /// MySQL (or SQLite) connection URL of the relational store.
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// DynamoDB table holding the top-tracks cache.
    pub const TOP_TRACKS_TABLE: &str = "TOP_TRACKS_TABLE";
    /// Name of the EventBridge bus the services publish to.
    pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
    /// S3 bucket of the data lake.
    pub const LAKE_BUCKET: &str = "LAKE_BUCKET";
    /// Spotify app credentials (unset: the embedded default uses the stand-in).
    pub const SPOTIFY_CLIENT_ID: &str = "SPOTIFY_CLIENT_ID";
    pub const SPOTIFY_CLIENT_SECRET: &str = "SPOTIFY_CLIENT_SECRET";
    /// Shared secret Kakao sends in `X-Encore-Skill-Secret`.
    pub const SKILL_SECRET: &str = "ENCORE_SKILL_SECRET";
    /// Hosts the ingest service may post Kakao callbacks to (comma-separated, `*.` wildcard).
    pub const CALLBACK_HOSTS: &str = "ENCORE_CALLBACK_HOSTS";
    /// Artists one ingest batch works on at the same time.
    pub const INGEST_CONCURRENCY: &str = "ENCORE_INGEST_CONCURRENCY";
    /// Seconds one artist's ingest may take: no artist starts with less time left before
    /// the deadline (default 10).
    pub const INGEST_ARTIST_BUDGET_SECS: &str = "ENCORE_INGEST_ARTIST_BUDGET_SECS";
    /// Deliveries before the ingest queue dead-letters a message (its maxReceiveCount).
    pub const INGEST_MAX_RECEIVES: &str = "ENCORE_INGEST_MAX_RECEIVES";
    /// Where an SQS consumer moves a message that can never succeed, at once:
    /// `<source queue ARN>=<dead-letter queue URL>`, comma separated (empty: the redrive
    /// policy moves it after its receives).
    pub const DEAD_LETTER_QUEUES: &str = "ENCORE_DEAD_LETTER_QUEUES";
    /// How many of an artist's newest releases ingest keeps.
    pub const LATEST_RELEASES_KEPT: &str = "ENCORE_LATEST_RELEASES";
    /// Where audio features come from when Spotify refuses or lacks them:
    /// `reccobeats` (default) or `none`.
    pub const FEATURES_FALLBACK: &str = "ENCORE_FEATURES_FALLBACK";
    /// Base URL of ReccoBeats (default `https://api.reccobeats.com`; the embedded runner
    /// defaults to its stand-in).
    pub const RECCOBEATS_URL: &str = "ENCORE_RECCOBEATS_URL";
    /// The Spotify app's mode: `extended` (default) or `development` (top tracks and
    /// audio features refused; the stand-in plays it too).
    pub const SPOTIFY_MODE: &str = "ENCORE_SPOTIFY_MODE";
    /// Secrets Manager ARN of the MySQL credentials ({"username","password"}), read at cold start.
    pub const DATABASE_SECRET_ARN: &str = "DATABASE_SECRET_ARN";
    /// Secrets Manager ARN of the Spotify client secret, read at cold start.
    pub const SPOTIFY_CLIENT_SECRET_ARN: &str = "SPOTIFY_CLIENT_SECRET_ARN";
    /// Secrets Manager ARN of the Kakao skill secret, read at cold start.
    pub const SKILL_SECRET_ARN: &str = "ENCORE_SKILL_SECRET_ARN";
    /// Glue database of the lake tables (Athena).
    pub const LAKE_DATABASE: &str = "LAKE_DATABASE";
    /// Athena workgroup the lake queries run in.
    pub const ATHENA_WORKGROUP: &str = "ATHENA_WORKGROUP";
    /// The queues replay moves dead letters between (queue URLs).
    pub const INGEST_QUEUE_URL: &str = "INGEST_QUEUE_URL";
    pub const INGEST_DLQ_URL: &str = "INGEST_DLQ_URL";
    pub const LAKE_QUEUE_URL: &str = "LAKE_QUEUE_URL";
    pub const LAKE_DLQ_URL: &str = "LAKE_DLQ_URL";
    /// Visibility timeout of the embedded queues, in seconds (how long a crashed
    /// consumer's messages stay hidden before another delivery).
    pub const QUEUE_VISIBILITY_SECS: &str = "ENCORE_QUEUE_VISIBILITY_SECS";
    /// The similarity job's shrink guard: the smallest fraction (0–1) of the current
    /// datamart's artists a run must relate to replace it (default 0.9).
    pub const SIMILARITY_MIN_KEPT_FRACTION: &str = "ENCORE_SIMILARITY_MIN_KEPT_FRACTION";
    /// Minutes within which a newly ingested artist gets its similar artists (the
    /// catch-up schedule's interval), which the answers promise; unset: the next daily run.
    pub const RELATED_WITHIN_MINUTES: &str = "ENCORE_RELATED_WITHIN_MINUTES";
    /// Test endpoints of the local stack.
    pub const TEST_MYSQL_URL: &str = "ENCORE_TEST_MYSQL_URL";
    pub const TEST_AWS_ENDPOINT: &str = "ENCORE_TEST_AWS_ENDPOINT";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_the_variable() {
        let env = Env::from_pairs([]);
        assert_eq!(
            env.required(keys::DATABASE_URL).unwrap_err().to_string(),
            "missing environment variable DATABASE_URL"
        );
    }

    #[test]
    fn blank_counts_as_missing() {
        let env = Env::from_pairs([(keys::LAKE_BUCKET, "  ")]);
        assert!(matches!(
            env.required(keys::LAKE_BUCKET),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn parse_errors_name_the_variable() {
        let env = Env::from_pairs([("N", "x1")]);
        let err = env.parse_or::<u32>("N", 3).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable N is invalid"),
            "{err}"
        );
        assert_eq!(Env::from_pairs([]).parse_or::<u32>("N", 3).unwrap(), 3);
        assert_eq!(
            Env::from_pairs([("N", " 7 ")])
                .parse_required::<u32>("N")
                .unwrap(),
            7
        );
    }
}
