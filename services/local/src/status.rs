//! `encore status` and `GET /status`: the embedded stack's health in the figures the AWS
//! deployment shows as CloudWatch metrics and alarms: queue depths and dead letters, the
//! last similarity run and what it did, and how much the stores hold.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use encore_messaging::Queue;
use encore_similarity_service::{JobError, JobSummary};
use encore_store::sqlite::StoreCounts;
use encore_store::BackendError;
use serde::{Deserialize, Serialize};

use crate::stack::Stack;

/// The file in the data directory recording the last similarity run.
pub const LAST_JOB_FILE: &str = "last-job.json";

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    pub name: String,
    /// Messages waiting or in flight.
    pub depth: u64,
    /// Messages in its dead-letter queue.
    pub dead_letters: u64,
}

/// The last similarity run, as recorded by [`record_job`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastJob {
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub outcome: String,
    /// Why it failed (the datamart was left as it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artists: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_seconds: Option<f64>,
}

impl LastJob {
    /// The record of a run that ended now with `result`.
    pub fn of(result: &Result<JobSummary, JobError>) -> Self {
        let mut job = Self {
            finished_at: Utc::now(),
            outcome: "ok".into(),
            error: None,
            snapshot: None,
            artists: None,
            rows: None,
            query_seconds: None,
            knn_seconds: None,
            load_seconds: None,
        };
        match result {
            Ok(summary) => {
                job.snapshot = Some(summary.snapshot);
                job.artists = Some(summary.artists);
                job.rows = Some(summary.rows);
                job.query_seconds = Some(summary.query_seconds);
                job.knn_seconds = Some(summary.knn_seconds);
                job.load_seconds = Some(summary.load_seconds);
            }
            Err(err) => {
                job.outcome = "failed".into();
                job.error = Some(err.to_string());
            }
        }
        job
    }
}

/// Everything `encore status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub queues: Vec<QueueStatus>,
    #[serde(flatten)]
    pub counts: StoreCounts,
    /// `None` until the job has run in this data directory.
    pub last_job: Option<LastJob>,
}

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Store(#[from] BackendError),
    #[error("cannot read the last job record {path}: {reason}")]
    LastJob { path: PathBuf, reason: String },
}

/// Reads the stack's figures now.
pub async fn status(stack: &Stack) -> Result<Status, StatusError> {
    let mut queues = Vec::new();
    for queue in [&stack.ingest_queue, &stack.lake_queue] {
        queues.push(QueueStatus {
            name: queue.name().to_owned(),
            depth: queue.depth().await?,
            dead_letters: queue.dead_letters().depth().await?,
        });
    }
    Ok(Status {
        queues,
        counts: stack.store.counts().await?,
        last_job: last_job(&stack.data_dir)?,
    })
}

/// Records a finished run in `data_dir` (best effort: a failure is logged, the run's
/// result stands).
pub fn record_job(data_dir: &Path, result: &Result<JobSummary, JobError>) {
    let path = data_dir.join(LAST_JOB_FILE);
    let written = serde_json::to_vec_pretty(&LastJob::of(result))
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&path, bytes));
    if let Err(err) = written {
        tracing::warn!(path = %path.display(), reason = %err, "cannot record the similarity run");
    }
}

fn last_job(data_dir: &Path) -> Result<Option<LastJob>, StatusError> {
    let path = data_dir.join(LAST_JOB_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StatusError::LastJob {
                path,
                reason: e.to_string(),
            }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(StatusError::LastJob {
            path,
            reason: err.to_string(),
        }),
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for q in &self.queues {
            writeln!(
                f,
                "queue {:<8} {:>6} waiting or in flight, {:>4} dead letters",
                q.name, q.depth, q.dead_letters
            )?;
        }
        writeln!(
            f,
            "artists      {:>6} stored, {} with cached top tracks",
            self.counts.artists, self.counts.cached_artists
        )?;
        writeln!(f, "related rows {:>6}", self.counts.related_rows)?;
        match &self.last_job {
            None => writeln!(f, "last job     never run (encore similarity run)"),
            Some(job) if job.outcome == "ok" => writeln!(
                f,
                "last job     ok at {}: snapshot {}, {} artists, {} rows; query {:.2} s, knn {:.2} s, load {:.2} s",
                job.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
                job.snapshot.map(|d| d.to_string()).unwrap_or_default(),
                job.artists.unwrap_or_default(),
                job.rows.unwrap_or_default(),
                job.query_seconds.unwrap_or_default(),
                job.knn_seconds.unwrap_or_default(),
                job.load_seconds.unwrap_or_default(),
            ),
            Some(job) => writeln!(
                f,
                "last job     FAILED at {}: {}",
                job.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
                job.error.as_deref().unwrap_or("unknown reason")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use encore_platform::config::keys;
    use encore_platform::Env;

    use super::*;
    use crate::stack::MAX_RECEIVES;

    #[tokio::test]
    async fn counts_waiting_messages_and_dead_letters() {
        let dir = std::env::temp_dir().join(format!("encore-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = Env::from_pairs([(keys::QUEUE_VISIBILITY_SECS, "0")]);
        let stack = Stack::open(&dir, &env).await.unwrap();
        stack.ingest_queue.send("poison").await.unwrap();
        // The poison message fails every delivery until it is dead-lettered.
        for _ in 0..=MAX_RECEIVES {
            for message in stack
                .ingest_queue
                .receive(10, Duration::ZERO)
                .await
                .unwrap()
            {
                stack
                    .ingest_queue
                    .fail(&message.receipt, "bad")
                    .await
                    .unwrap();
            }
        }
        stack.ingest_queue.send("waiting").await.unwrap();
        stack.lake_queue.send("waiting").await.unwrap();
        let status = status(&stack).await.unwrap();
        let ingest = &status.queues[0];
        assert_eq!(
            (ingest.name.as_str(), ingest.depth, ingest.dead_letters),
            ("ingest", 1, 1),
            "{status:?}"
        );
        assert_eq!(
            (status.queues[1].depth, status.queues[1].dead_letters),
            (1, 0)
        );
        assert_eq!(status.last_job, None);
        assert!(status.to_string().contains("1 dead letters"), "{status}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
