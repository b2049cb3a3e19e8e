//! The daily refresh: every name users asked about in the last [`REFRESH_WINDOW_DAYS`]
//! days is requested again as `ArtistRequested` with reason `Refresh`, so ingest fetches
//! the artist's top tracks and latest releases anew through the normal path, and newly
//! released songs appear without anyone clearing a cache.
//!
//! Runs from the same daily schedule as the similarity job, before it (the refreshed data
//! reaches the lake as the queues drain, in time for the next day's run).

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, Utc};
use encore_domain::events::{ArtistRequested, BusEvent, EventMeta, RequestReason, SOURCE_OPS};
use encore_domain::service_date;
use encore_messaging::{EventPublisher, OutgoingEvent};
use encore_store::{BackendError, RequestLog};
use serde::Serialize;
use uuid::Uuid;

/// Names asked about within this many days are refreshed.
pub const REFRESH_WINDOW_DAYS: u64 = 30;
/// Events handed to the publisher per call (the EventBridge adapter splits further).
const PUBLISH_CHUNK: usize = 100;
/// Namespace of refresh request ids: one id per name per day.
const REFRESH_ID_NAMESPACE: Uuid = Uuid::from_u128(0x7265_6672_6573_6800_8000_656e_636f_7265);

/// What one refresh requested.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefreshSummary {
    /// Names requested again.
    pub requested: usize,
    /// The service date the refresh ran for (Asia/Seoul).
    pub day: NaiveDate,
    /// Names asked about at or after this instant were refreshed.
    pub since: DateTime<Utc>,
}

impl fmt::Display for RefreshSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refresh {}: {} artist(s) asked about since {} requested again",
            self.day,
            self.requested,
            self.since.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// Why a refresh stopped. Requests published before the failure stay published; running
/// the refresh again the same day publishes the same event ids, so nothing is doubled.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("reading the names users asked about failed: {0}")]
    Read(#[source] BackendError),
    #[error("publishing refresh requests failed after {published} of {total}: {source}")]
    Publish {
        published: usize,
        total: usize,
        #[source]
        source: BackendError,
    },
}

/// The refresh request for `normalized` on service date `day`. Its event id and request id
/// derive from both, so a retried or repeated refresh on the same day is the same event
/// (and ingest derives the same `ArtistIngested` id from it).
pub fn refresh_request(normalized: &str, day: NaiveDate) -> ArtistRequested {
    let key = format!("refresh\n{day}\n{normalized}");
    let id = Uuid::new_v5(&REFRESH_ID_NAMESPACE, key.as_bytes());
    ArtistRequested {
        meta: EventMeta::with_id(ArtistRequested::VERSION, id),
        query: normalized.to_owned(),
        normalized: normalized.to_owned(),
        requested_by: None,
        callback_url: None,
        request_id: format!("refresh:{}", id.simple()),
        reason: RequestReason::Refresh,
    }
}

/// Requests again every name users asked about in the `window_days` before `now`.
pub async fn request_refresh(
    requests: &dyn RequestLog,
    publisher: &dyn EventPublisher,
    now: DateTime<Utc>,
    window_days: u64,
) -> Result<RefreshSummary, RefreshError> {
    let since = now
        .checked_sub_days(Days::new(window_days))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let day = service_date(now);
    let names = requests
        .asked_since(since)
        .await
        .map_err(RefreshError::Read)?;
    let total = names.len();
    let mut published = 0;
    for chunk in names.chunks(PUBLISH_CHUNK) {
        let publish = |source| RefreshError::Publish {
            published,
            total,
            source,
        };
        let events = chunk
            .iter()
            .map(|name| OutgoingEvent::new(&refresh_request(name.as_str(), day), SOURCE_OPS))
            .collect::<Result<Vec<_>, _>>()
            .map_err(publish)?;
        publisher.publish(&events).await.map_err(publish)?;
        published += chunk.len();
    }
    tracing::info!(requested = total, %day, "refresh requested");
    Ok(RefreshSummary {
        requested: total,
        day,
        since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_name_per_day() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let next = day.succ_opt().unwrap();
        let a = refresh_request("bts", day);
        assert_eq!(a.meta.id, refresh_request("bts", day).meta.id);
        assert_eq!(a.request_id, refresh_request("bts", day).request_id);
        assert_ne!(a.meta.id, refresh_request("bts", next).meta.id);
        assert_ne!(a.meta.id, refresh_request("iu", day).meta.id);
        assert_eq!(a.reason, RequestReason::Refresh);
        assert_eq!((a.query.as_str(), a.normalized.as_str()), ("bts", "bts"));
    }
}
