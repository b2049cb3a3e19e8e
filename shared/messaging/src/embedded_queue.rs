//! The embedded durable queue: SQS's semantics on SQLite, in the same database file as the
//! rest of the embedded store.
//!
//! A message is deleted only after its handler succeeds. Receiving hides it until
//! `now + visibility_timeout` and counts the delivery, so a crash mid-processing means the
//! message reappears after the timeout. A message failed `max_receives` times moves to the
//! queue's dead-letter queue (`<name>-dlq`) with its last error, like SQS's redrive policy.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::{
    dead_letter_name, BackendError, Queue, QueueMessage, QueueSettings, MAX_RECEIVE_BATCH,
};

/// How often a waiting receive looks for new messages.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The queue table and its indexes, created by the queue itself on open.
const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS queue_messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        queue TEXT NOT NULL,
        body TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        visible_at INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        receipt TEXT,
        last_error TEXT
    )",
    "CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt)",
];

/// A stored message as an operator sees it (the CLI lists dead letters with these).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    /// Deliveries in this queue so far.
    pub receive_count: u32,
    /// The reason of the last failed delivery, kept when the message is dead-lettered.
    pub last_error: Option<String>,
}

/// One named queue in the embedded store's SQLite database.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    pool: SqlitePool,
    name: String,
    settings: QueueSettings,
    /// Where failing messages go; `None` for a dead-letter queue itself.
    dead_letter: Option<String>,
}

impl EmbeddedQueue {
    /// Opens the queue `name` (creating the queue table if the database has none yet).
    pub async fn open(
        pool: SqlitePool,
        name: &str,
        settings: QueueSettings,
    ) -> Result<Self, BackendError> {
        if name.is_empty() {
            return Err(BackendError::rejected("a queue needs a name"));
        }
        if settings.max_receives == 0 {
            return Err(BackendError::rejected(format!(
                "queue {name}: max_receives must be at least 1"
            )));
        }
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self {
            pool,
            name: name.to_owned(),
            settings,
            dead_letter: Some(dead_letter_name(name)),
        })
    }

    /// How long a received message stays hidden: the time its consumer has.
    pub fn visibility_timeout(&self) -> Duration {
        self.settings.visibility_timeout
    }

    /// This queue's dead-letter queue, as a queue of its own (replay receives from it).
    pub fn dead_letters(&self) -> Self {
        let name = self
            .dead_letter
            .clone()
            .unwrap_or_else(|| dead_letter_name(&self.name));
        Self {
            pool: self.pool.clone(),
            name,
            settings: self.settings,
            dead_letter: None,
        }
    }

    /// Up to `limit` messages in sending order with their last error, without receiving them
    /// (nothing changes: for listing a dead-letter queue).
    pub async fn list(&self, limit: u32) -> Result<Vec<StoredMessage>, BackendError> {
        let rows = sqlx::query(
            "SELECT id, body, sent_at, receive_count, last_error FROM queue_messages
             WHERE queue = ?1 ORDER BY seq LIMIT ?2",
        )
        .bind(&self.name)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let sent_at: i64 = row.try_get("sent_at")?;
                Ok(StoredMessage {
                    id: row.try_get("id")?,
                    body: row.try_get("body")?,
                    sent_at: DateTime::from_timestamp_millis(sent_at).ok_or_else(|| {
                        BackendError::corrupt(format!("queue {}: bad sent_at {sent_at}", self.name))
                    })?,
                    receive_count: count(row.try_get("receive_count")?)?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Moves every visible message already delivered `max_receives` times to the
    /// dead-letter queue: covers deliveries that crashed without reporting a failure.
    async fn redrive_exhausted(&self, now: i64) -> Result<(), BackendError> {
        let Some(dead_letter) = &self.dead_letter else {
            return Ok(());
        };
        let moved = sqlx::query(
            "UPDATE queue_messages
             SET queue = ?1, visible_at = ?2, receive_count = 0, receipt = NULL,
                 last_error = COALESCE(last_error, 'delivered ' || receive_count || ' times without success')
             WHERE queue = ?3 AND visible_at <= ?2 AND receive_count >= ?4
             RETURNING id, last_error",
        )
        .bind(dead_letter)
        .bind(now)
        .bind(&self.name)
        .bind(i64::from(self.settings.max_receives))
        .fetch_all(&self.pool)
        .await?;
        for row in moved {
            let id: String = row.try_get("id")?;
            let reason: Option<String> = row.try_get("last_error")?;
            tracing::warn!(queue = %self.name, message_id = %id, reason = reason.as_deref().unwrap_or(""),
                "message moved to the dead-letter queue");
        }
        Ok(())
    }

    /// The message id and receive count of the delivery `receipt` names, or `None` (logged
    /// as a warning naming `operation`) when the receipt is stale: the message was
    /// redelivered under another receipt, or is gone.
    async fn delivery(
        &self,
        receipt: &str,
        operation: &str,
        reason: &str,
    ) -> Result<Option<(String, u32)>, BackendError> {
        let row = sqlx::query(
            "SELECT id, receive_count FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
        )
        .bind(&self.name)
        .bind(receipt)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            tracing::warn!(queue = %self.name, reason, "{operation} with a stale receipt: the message was redelivered or is gone");
            return Ok(None);
        };
        Ok(Some((
            row.try_get("id")?,
            count(row.try_get("receive_count")?)?,
        )))
    }

    /// Moves the message with `receipt` to the dead-letter queue with `reason` (a
    /// dead-letter queue itself keeps it, failed, for the visibility timeout).
    async fn move_to_dead_letters(
        &self,
        receipt: &str,
        id: &str,
        receive_count: u32,
        reason: &str,
    ) -> Result<(), BackendError> {
        let Some(dead_letter) = &self.dead_letter else {
            return self.keep_failed(receipt, id, receive_count, reason).await;
        };
        sqlx::query(
            "UPDATE queue_messages
             SET queue = ?1, visible_at = ?2, receive_count = 0, receipt = NULL, last_error = ?3
             WHERE queue = ?4 AND receipt = ?5",
        )
        .bind(dead_letter)
        .bind(now_millis())
        .bind(reason)
        .bind(&self.name)
        .bind(receipt)
        .execute(&self.pool)
        .await?;
        tracing::warn!(queue = %self.name, message_id = %id, receive_count, reason,
            "message moved to the dead-letter queue");
        Ok(())
    }

    /// Records `reason` on the message, which comes back after its visibility timeout.
    async fn keep_failed(
        &self,
        receipt: &str,
        id: &str,
        receive_count: u32,
        reason: &str,
    ) -> Result<(), BackendError> {
        sqlx::query("UPDATE queue_messages SET last_error = ?1 WHERE queue = ?2 AND receipt = ?3")
            .bind(reason)
            .bind(&self.name)
            .bind(receipt)
            .execute(&self.pool)
            .await?;
        tracing::warn!(queue = %self.name, message_id = %id, receive_count, reason,
            "message failed; redelivered after its visibility timeout");
        Ok(())
    }

    /// Takes up to `max` visible messages, hiding them for the visibility timeout.
    async fn claim(&self, max: usize) -> Result<Vec<QueueMessage>, BackendError> {
        let now = now_millis();
        self.redrive_exhausted(now).await?;
        let receive_limit = match self.dead_letter {
            Some(_) => i64::from(self.settings.max_receives),
            None => i64::MAX,
        };
        let rows = sqlx::query(
            "UPDATE queue_messages
             SET visible_at = ?1, receive_count = receive_count + 1, receipt = lower(hex(randomblob(16)))
             WHERE seq IN (
                 SELECT seq FROM queue_messages
                 WHERE queue = ?2 AND visible_at <= ?3 AND receive_count < ?4
                 ORDER BY seq LIMIT ?5)
             RETURNING seq, id, body, receive_count, receipt",
        )
        .bind(now.saturating_add(millis(self.settings.visibility_timeout)))
        .bind(&self.name)
        .bind(now)
        .bind(receive_limit)
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = rows
            .into_iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let message = QueueMessage {
                    id: row.try_get("id")?,
                    receipt: row.try_get("receipt")?,
                    body: row.try_get("body")?,
                    receive_count: count(row.try_get("receive_count")?)?,
                };
                Ok((seq, message))
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        claimed.sort_by_key(|(seq, _)| *seq);
        Ok(claimed.into_iter().map(|(_, message)| message).collect())
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: &str) -> Result<String, BackendError> {
        let id = Uuid::new_v4().to_string();
        let now = now_millis();
        sqlx::query("INSERT INTO queue_messages (id, queue, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?4)")
            .bind(&id)
            .bind(&self.name)
            .bind(body)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, BackendError> {
        let max = max.min(MAX_RECEIVE_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let claimed = self.claim(max).await?;
            let now = tokio::time::Instant::now();
            if !claimed.is_empty() || now >= deadline {
                return Ok(claimed);
            }
            tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), BackendError> {
        let deleted = sqlx::query("DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2")
            .bind(&self.name)
            .bind(receipt)
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            // As on SQS: a receipt older than the latest delivery deletes nothing.
            tracing::warn!(queue = %self.name, "delete with a stale receipt: the message was redelivered or is gone");
        }
        Ok(())
    }

    async fn fail(&self, receipt: &str, reason: &str) -> Result<(), BackendError> {
        let Some((id, receive_count)) = self.delivery(receipt, "fail", reason).await? else {
            return Ok(());
        };
        if receive_count >= self.settings.max_receives {
            return self
                .move_to_dead_letters(receipt, &id, receive_count, reason)
                .await;
        }
        self.keep_failed(receipt, &id, receive_count, reason).await
    }

    /// Moves the message at once: no delivery can succeed.
    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), BackendError> {
        let Some((id, receive_count)) = self.delivery(receipt, "dead-letter", reason).await? else {
            return Ok(());
        };
        self.move_to_dead_letters(receipt, &id, receive_count, reason)
            .await
    }

    async fn release(&self, receipt: &str) -> Result<(), BackendError> {
        sqlx::query("UPDATE queue_messages SET visible_at = ?1 WHERE queue = ?2 AND receipt = ?3")
            .bind(now_millis())
            .bind(&self.name)
            .bind(receipt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, BackendError> {
        let depth: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_messages WHERE queue = ?1")
            .bind(&self.name)
            .fetch_one(&self.pool)
            .await?;
        u64::try_from(depth)
            .map_err(|_| BackendError::corrupt(format!("queue {}: negative depth", self.name)))
    }
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn count(raw: i64) -> Result<u32, BackendError> {
    u32::try_from(raw)
        .map_err(|_| BackendError::corrupt(format!("receive count {raw} out of range")))
}
