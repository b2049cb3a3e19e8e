//! The queues replay works on: each source queue and its dead-letter queue, by name.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use encore_messaging::dead_letter_name;
use encore_messaging::sqs::SqsQueue;
use encore_messaging::Queue;
use encore_platform::config::{keys, ConfigError, Env};
use serde::{Deserialize, Serialize};

/// A queue with a dead-letter queue: the one place these names are spelled. They name the
/// embedded queues, the CLI's `--queue` values and the Lambda payload's `"queue"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueName {
    /// `ArtistRequested` events waiting for the ingest service.
    Ingest,
    /// `ArtistIngested` events waiting for the lake service.
    Lake,
}

impl QueueName {
    /// Every queue, in a stable order (for help texts and loops over all queues).
    pub const ALL: [QueueName; 2] = [QueueName::Ingest, QueueName::Lake];

    /// The queue's name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Ingest => "ingest",
            QueueName::Lake => "lake",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queue name that is none of [`QueueName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown queue {0:?}: expected ingest or lake")]
pub struct UnknownQueue(pub String);

impl FromStr for QueueName {
    type Err = UnknownQueue;

    /// Parses `ingest` or `lake` (as `clap` does for `--queue`).
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        QueueName::ALL
            .into_iter()
            .find(|name| name.as_str() == raw)
            .ok_or_else(|| UnknownQueue(raw.to_owned()))
    }
}

/// A source queue and the dead-letter queue its failed messages end up in.
#[derive(Clone)]
pub struct QueuePair {
    /// Where replayed messages go back to.
    pub source: Arc<dyn Queue>,
    /// Where failed messages wait.
    pub dead_letters: Arc<dyn Queue>,
}

/// The pair of each [`QueueName`], on SQS or on the embedded queue.
#[derive(Clone)]
pub struct QueuePairs {
    /// The ingest queue and its DLQ.
    pub ingest: QueuePair,
    /// The lake queue and its DLQ.
    pub lake: QueuePair,
}

impl QueuePairs {
    /// The pair called `name`.
    pub fn get(&self, name: QueueName) -> &QueuePair {
        match name {
            QueueName::Ingest => &self.ingest,
            QueueName::Lake => &self.lake,
        }
    }

    /// The SQS queues at `urls`, named in logs like the embedded ones (`ingest`,
    /// `ingest-dlq`, …).
    pub fn on_sqs(client: &aws_sdk_sqs::Client, urls: &QueueUrls) -> Self {
        let pair = |name: QueueName, source: &str, dead_letters: &str| QueuePair {
            source: Arc::new(SqsQueue::new(client.clone(), source, name.as_str())),
            dead_letters: Arc::new(SqsQueue::new(
                client.clone(),
                dead_letters,
                dead_letter_name(name.as_str()),
            )),
        };
        Self {
            ingest: pair(QueueName::Ingest, &urls.ingest, &urls.ingest_dead_letters),
            lake: pair(QueueName::Lake, &urls.lake, &urls.lake_dead_letters),
        }
    }
}

/// The SQS queue URLs the Lambda is given (the SAM template sets them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// `INGEST_QUEUE_URL`.
    pub ingest: String,
    /// `INGEST_DLQ_URL`.
    pub ingest_dead_letters: String,
    /// `LAKE_QUEUE_URL`.
    pub lake: String,
    /// `LAKE_DLQ_URL`.
    pub lake_dead_letters: String,
}

impl QueueUrls {
    /// Reads the four URLs; an error names the first one missing.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            ingest: env.required(keys::INGEST_QUEUE_URL)?,
            ingest_dead_letters: env.required(keys::INGEST_DLQ_URL)?,
            lake: env.required(keys::LAKE_QUEUE_URL)?,
            lake_dead_letters: env.required(keys::LAKE_DLQ_URL)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_alike() {
        for name in QueueName::ALL {
            assert_eq!(name.as_str().parse::<QueueName>(), Ok(name));
            assert_eq!(
                serde_json::to_value(name).unwrap(),
                serde_json::json!(name.to_string())
            );
        }
        assert_eq!(
            "Ingest".parse::<QueueName>().unwrap_err().to_string(),
            r#"unknown queue "Ingest": expected ingest or lake"#
        );
    }

    #[test]
    fn urls_name_the_missing_variable() {
        let env = Env::from_pairs([
            (keys::INGEST_QUEUE_URL, "u1"),
            (keys::INGEST_DLQ_URL, "u2"),
            (keys::LAKE_QUEUE_URL, "u3"),
        ]);
        assert_eq!(
            QueueUrls::from_env(&env),
            Err(ConfigError::Missing {
                key: keys::LAKE_DLQ_URL
            })
        );
    }
}
