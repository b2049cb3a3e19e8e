//! CloudWatch metrics in the embedded metric format (EMF): one JSON document a line on
//! stdout, which CloudWatch Logs turns into metrics with no API call and no extra
//! permission. The format is AWS's "Specification: Embedded metric format"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>);
//! in Lambda, everything a function writes to stdout reaches its log group
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html>).
//!
//! Every document has one dimension, [`SERVICE_DIMENSION`] (the function: `chat`,
//! `ingest`, …), and the metrics of one unit of work (a request, a batch, a run). The
//! logs themselves go to stderr, so the two never share a line. Outside Lambda nothing is
//! written unless asked for ([`Metrics::emit_to`]): the embedded stack shows its figures
//! with `encore status` instead.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every encore metric. The template's alarms name the same
/// namespace (`infra/checks` compares them).
pub const NAMESPACE: &str = "encore";
/// The one dimension of every metric: which function emitted it.
pub const SERVICE_DIMENSION: &str = "service";
/// Most metrics one EMF document may define (the specification's limit).
pub const MAX_METRICS: usize = 100;

/// The metric names, defined once (the template's alarms use some of them).
pub mod names {
    /// chat: one per answer, by kind (`Answer` + the kind, e.g. `AnswerArtist`).
    pub const ANSWER_PREFIX: &str = "Answer";
    /// chat: 1 when the answer was the friendly failure text (a store was down), else 0;
    /// the chat alarm watches it, since the function itself still answers 200.
    pub const CHAT_FAILED: &str = "ChatFailed";
    /// chat: 1 when the answer came from the in-memory cache, else 0.
    pub const CACHE_HIT: &str = "CacheHit";
    /// chat: time to answer, milliseconds.
    pub const LATENCY: &str = "Latency";
    /// ingest: artists stored per batch.
    pub const INGESTED: &str = "Ingested";
    /// ingest: requests the catalog had no artist for.
    pub const NOT_FOUND: &str = "NotFound";
    /// ingest: messages failed (retried, or dead-lettered after the last receive).
    pub const INGEST_FAILED: &str = "IngestFailed";
    /// ingest: messages not started or cut off because the deadline came.
    pub const OUT_OF_TIME: &str = "OutOfTime";
    /// ingest: HTTP requests sent to Spotify (token and retries included).
    pub const SPOTIFY_CALLS: &str = "SpotifyCalls";
    /// ingest: Spotify answers 429 (rate limited).
    pub const SPOTIFY_RATE_LIMITED: &str = "SpotifyRateLimited";
    /// ingest: artists served through a Development Mode fallback.
    pub const FALLBACK_USED: &str = "FallbackUsed";
    /// ingest: calls to the feature fallback (ReccoBeats), retries included.
    pub const FEATURE_FALLBACK_CALLS: &str = "FeatureFallbackCalls";
    /// lake: rows written (all tables).
    pub const LAKE_ROWS: &str = "LakeRows";
    /// lake: Parquet files written.
    pub const LAKE_FILES: &str = "LakeFiles";
    /// lake: events that could not be written (retried).
    pub const LAKE_FAILED: &str = "LakeFailed";
    /// similarity: seconds of each stage (`QuerySeconds`, `KnnSeconds`, `LoadSeconds`).
    pub const QUERY_SECONDS: &str = "QuerySeconds";
    /// similarity: seconds of the nearest-neighbour search.
    pub const KNN_SECONDS: &str = "KnnSeconds";
    /// similarity: seconds of the datamart load.
    pub const LOAD_SECONDS: &str = "LoadSeconds";
    /// similarity: artists with a profile.
    pub const ARTISTS: &str = "Artists";
    /// similarity: datamart rows written.
    pub const RELATED_ROWS: &str = "RelatedRows";
    /// similarity: 1 when the run failed, else 0.
    pub const JOB_FAILED: &str = "JobFailed";
    /// similarity: 1 when the shrink guard refused the run (the lake held far fewer
    /// artists than the datamart), else 0.
    pub const SHRINK_REFUSED: &str = "ShrinkRefused";
}

/// A CloudWatch unit (the subset encore uses), as the specification spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    /// The unit's name in an EMF document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
        }
    }
}

/// The metrics of one unit of work of one service, written as one EMF document.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    service: &'static str,
    values: Vec<(String, Unit, f64)>,
}

impl Metrics {
    /// An empty set for `service` (the [`SERVICE_DIMENSION`] value).
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            values: Vec::new(),
        }
    }

    /// Adds a count. A name added twice keeps the sum.
    pub fn count(&mut self, name: impl Into<String>, n: u64) -> &mut Self {
        // Counts far beyond 2^53 do not occur; f64 is what the document carries.
        self.add(name.into(), Unit::Count, n as f64)
    }

    /// Adds a duration in milliseconds.
    pub fn milliseconds(&mut self, name: impl Into<String>, ms: f64) -> &mut Self {
        self.add(name.into(), Unit::Milliseconds, ms)
    }

    /// Adds a duration in seconds.
    pub fn seconds(&mut self, name: impl Into<String>, s: f64) -> &mut Self {
        self.add(name.into(), Unit::Seconds, s)
    }

    fn add(&mut self, name: String, unit: Unit, value: f64) -> &mut Self {
        let full = self.values.len() >= MAX_METRICS;
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, v)) => *v += value,
            None if !full => self.values.push((name, unit, value)),
            None => {
                tracing::warn!(metric = %name, "more than {MAX_METRICS} metrics in one document; dropped")
            }
        }
        self
    }

    /// The value recorded for `name`, if any.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| *v)
    }

    /// The EMF document at `timestamp_ms` (milliseconds since the Unix epoch).
    pub fn document(&self, timestamp_ms: u64) -> Value {
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit.as_str() }))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[SERVICE_DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        root.insert(SERVICE_DIMENSION.into(), Value::from(self.service));
        for (name, _, value) in &self.values {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root)
    }

    /// Writes the document, stamped now, as one line to `out`. Nothing when empty.
    pub fn emit_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.values.is_empty() {
            return Ok(());
        }
        let mut line = self.document(now_millis()).to_string();
        line.push('\n');
        out.write_all(line.as_bytes())?;
        out.flush()
    }

    /// In Lambda, writes the document to stdout (one write, so no other output splits
    /// it); elsewhere does nothing.
    pub fn emit(&self) {
        if crate::logging::in_lambda() {
            if let Err(err) = self.emit_to(&mut std::io::stdout().lock()) {
                tracing::warn!(reason = %err, "cannot write metrics to stdout");
            }
        }
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_repeated_names_and_skips_empty_documents() {
        let mut metrics = Metrics::new("ingest");
        metrics.count(names::INGESTED, 2).count(names::INGESTED, 3);
        assert_eq!(metrics.value(names::INGESTED), Some(5.0));
        let mut out = Vec::new();
        Metrics::new("lake").emit_to(&mut out).unwrap();
        assert!(out.is_empty());
        metrics.emit_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn caps_the_metrics_of_one_document() {
        let mut metrics = Metrics::new("chat");
        for i in 0..MAX_METRICS + 5 {
            metrics.count(format!("M{i}"), 1);
        }
        let doc = metrics.document(0);
        let defined = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(defined, MAX_METRICS);
    }
}
