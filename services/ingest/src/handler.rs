//! The ingest handler: one SQS batch of `ArtistRequested` events in, stored artists, top
//! tracks and `ArtistIngested` events out, and the failed messages reported by id.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use encore_domain::events::{
    ingested_id_for, ArtistIngested, ArtistRequested, BusEvent, EventMeta, SOURCE_INGEST,
};
use encore_domain::suggest::NameIndex;
use encore_domain::{normalize, service_date, Artist, ArtistId, NormalizedName, Release};
use encore_kakao::callback::STILL_LOOKING_AFTER;
use encore_kakao::render::{self, ArtistCard, LatestRelease};
use encore_kakao::SkillResponse;
use encore_messaging::inbound::{BatchOutcome, InboundMessage};
use encore_messaging::MAX_ENTRY_BYTES;
use encore_messaging::{decode, DecodeError};
use encore_messaging::{EventPublisher, OutgoingEvent};
use encore_platform::metrics::{names, Metrics};
use encore_store::{
    ArtistStore, BackendError, RelatedStore, RequestLog, RequestStatus, TopTracksCache,
};
use futures::StreamExt;
use tracing::Instrument;

use crate::callback::Callbacks;
use crate::catalog::{Catalog, CatalogError};

/// How many artists of one batch are ingested at the same time by default: enough to hide
/// Spotify's latency, few enough to stay under its rolling rate limit.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The time one artist's ingest is given by default: a handful of Spotify calls with a
/// retry or two, the writes and the event. No artist starts with less time left.
pub const DEFAULT_ARTIST_BUDGET: Duration = Duration::from_secs(10);

/// Deliveries before the queue dead-letters a message when the deployment does not say
/// (the SAM template's `MaxReceiveCount` default).
pub const DEFAULT_MAX_RECEIVES: u32 = 5;
/// Kept free before a Lambda invocation's deadline to answer with the batch item
/// failures (an invocation that times out answers nothing, and Lambda retries the whole
/// batch).
pub const LAMBDA_RESERVE: Duration = Duration::from_secs(2);
/// The service's name in its metrics.
const SERVICE: &str = "ingest";

/// How long a batch may run: the Lambda invocation's remaining time, or the visibility
/// timeout of the embedded queue's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// When every message must be settled: unfinished ones are then reported failed.
    pub at: Instant,
    /// The time an artist needs: no new artist starts with less than this left.
    pub artist_budget: Duration,
}

impl Deadline {
    /// The deadline of a Lambda invocation ending at `deadline` (its context's), less
    /// [`LAMBDA_RESERVE`].
    pub fn lambda(deadline: SystemTime, artist_budget: Duration) -> Self {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Self {
            at: Instant::now() + left.saturating_sub(LAMBDA_RESERVE),
            artist_budget,
        }
    }

    /// `window` from now (the messages were just received with that visibility timeout).
    pub fn after(window: Duration, artist_budget: Duration) -> Self {
        Self {
            at: Instant::now() + window,
            artist_budget,
        }
    }

    /// Time left.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// Everything the handler writes to and reads from. The runner picks the adapters at run
/// time (MySQL + DynamoDB + EventBridge in Lambda, SQLite + the embedded bus locally).
#[derive(Clone)]
pub struct Ingest {
    pub catalog: Arc<dyn Catalog>,
    pub artists: Arc<dyn ArtistStore>,
    pub related: Arc<dyn RelatedStore>,
    pub requests: Arc<dyn RequestLog>,
    pub top_tracks: Arc<dyn TopTracksCache>,
    pub publisher: Arc<dyn EventPublisher>,
    pub callbacks: Callbacks,
    /// Artists of one batch in flight at once.
    pub concurrency: usize,
    /// How many of the artist's newest releases are kept (cached, and in the event).
    pub releases_kept: usize,
    /// Deliveries after which the queue dead-letters a message (its maxReceiveCount): on
    /// the last one a failure marks the request failed, so the next ask says so plainly.
    pub max_receives: u32,
}

/// Why one request could not be ingested. A permanent error ([`IngestError::is_permanent`])
/// dead-letters the message at once; any other fails it, so the queue redelivers it and,
/// after the configured receives, dead-letters it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The message is not an `ArtistRequested` this code understands: it will fail the
    /// same way on every delivery.
    #[error("malformed message: {0}")]
    Malformed(#[from] DecodeError),
    /// The message is larger than any event the bus carries.
    #[error("oversized message: {bytes} bytes, over the {MAX_ENTRY_BYTES}-byte event limit")]
    Oversized { bytes: usize },
    /// The request's query is blank: there is nothing to look up.
    #[error("the request has an empty query")]
    EmptyQuery,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Store(#[from] BackendError),
    /// The deadline came before the message was done (or before it could start); a later
    /// delivery tries again.
    #[error("out of time: {0}")]
    OutOfTime(String),
}

impl IngestError {
    /// True when no redelivery can succeed: a malformed, oversized or empty request, or a
    /// write the store refused for good (an event over the bus's size limit, say).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Malformed(_)
                | Self::Oversized { .. }
                | Self::EmptyQuery
                | Self::Store(BackendError::Rejected { .. } | BackendError::Duplicate { .. })
        )
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// The artist and its tracks are stored and `ArtistIngested` is published.
    Artist {
        artist_id: ArtistId,
        tracks: usize,
        features: usize,
    },
    /// The catalog has no artist for the query; recorded so, nothing else written.
    NotFound,
}

/// Handles one batch with no deadline: every message is tried (several at once), and
/// exactly the failed ones are reported, with their reasons logged.
pub async fn handle(batch: Vec<InboundMessage>, ingest: &Ingest) -> BatchOutcome {
    run(batch, ingest, None).await
}

/// Handles one batch within `deadline`: as [`handle`], except that no artist starts with
/// less than its budget left, an artist still in progress at the deadline is cut off,
/// and a Spotify retry that would wait past the deadline fails its message instead;
/// each such message is reported failed, so only it is delivered again.
pub async fn handle_until(
    batch: Vec<InboundMessage>,
    ingest: &Ingest,
    deadline: Deadline,
) -> BatchOutcome {
    run(batch, ingest, Some(deadline)).await
}

async fn run(
    batch: Vec<InboundMessage>,
    ingest: &Ingest,
    deadline: Option<Deadline>,
) -> BatchOutcome {
    let usage_before = ingest.catalog.usage();
    let results: Vec<(String, Result<Ingested, IngestError>)> = futures::stream::iter(batch)
        .map(|message| async move {
            let span = tracing::info_span!("ingest", message_id = %message.id, receive_count = message.receive_count);
            let result = within(deadline, ingest_message(&message, ingest))
                .instrument(span)
                .await;
            (message.id, result)
        })
        .buffer_unordered(ingest.concurrency.max(1))
        .collect()
        .await;
    let mut outcome = BatchOutcome::success();
    let mut metrics = Metrics::new(SERVICE);
    let usage = ingest.catalog.usage().since(usage_before);
    metrics
        .count(names::SPOTIFY_CALLS, usage.calls)
        .count(names::SPOTIFY_RATE_LIMITED, usage.rate_limited)
        .count(names::FALLBACK_USED, usage.fallbacks)
        .count(names::FEATURE_FALLBACK_CALLS, usage.feature_fallback_calls)
        .count(names::INGESTED, 0)
        .count(names::NOT_FOUND, 0)
        .count(names::INGEST_FAILED, 0)
        .count(names::OUT_OF_TIME, 0);
    for (id, result) in results {
        match result {
            Ok(Ingested::Artist { .. }) => metrics.count(names::INGESTED, 1),
            Ok(Ingested::NotFound) => metrics.count(names::NOT_FOUND, 1),
            Err(err) if err.is_permanent() => {
                tracing::error!(message_id = %id, reason = ?err.to_string(), "ingest failed for good; dead-lettering the request");
                outcome.reject(id, err.to_string());
                metrics.count(names::INGEST_FAILED, 1)
            }
            Err(err) => {
                if matches!(err, IngestError::OutOfTime(_)) {
                    metrics.count(names::OUT_OF_TIME, 1);
                }
                tracing::error!(message_id = %id, reason = ?err.to_string(), "ingest failed");
                outcome.fail(id, err.to_string());
                metrics.count(names::INGEST_FAILED, 1)
            }
        };
    }
    metrics.emit();
    outcome
}

/// Runs one message's work within the deadline, if there is one: not started when less
/// than the artist's budget is left, cut off at the deadline, and every Spotify call
/// inside bounded by it.
async fn within(
    deadline: Option<Deadline>,
    work: impl std::future::Future<Output = Result<Ingested, IngestError>>,
) -> Result<Ingested, IngestError> {
    let Some(deadline) = deadline else {
        return work.await;
    };
    let left = deadline.remaining();
    if left < deadline.artist_budget {
        return Err(IngestError::OutOfTime(format!(
            "not started with {:.1} s left (an artist is given {:.1} s)",
            left.as_secs_f64(),
            deadline.artist_budget.as_secs_f64()
        )));
    }
    let bounded = encore_spotify::deadline::within(deadline.at, work);
    match tokio::time::timeout_at(deadline.at.into(), bounded).await {
        Ok(Err(IngestError::Catalog(CatalogError::OutOfTime { reason, .. }))) => {
            Err(IngestError::OutOfTime(reason))
        }
        Ok(result) => result,
        Err(_) => Err(IngestError::OutOfTime(
            "cut off at the deadline before it finished".into(),
        )),
    }
}

async fn ingest_message(
    message: &InboundMessage,
    ingest: &Ingest,
) -> Result<Ingested, IngestError> {
    if message.body.len() > MAX_ENTRY_BYTES {
        return Err(IngestError::Oversized {
            bytes: message.body.len(),
        });
    }
    let request: ArtistRequested = decode(&message.body)?;
    if normalize(&request.query).is_empty() {
        return Err(IngestError::EmptyQuery);
    }
    let result = ingest_request(&request, ingest).await;
    if let Err(err) = &result {
        if err.is_permanent() || message.receive_count >= ingest.max_receives {
            // Whatever was written before the refusal (or the last delivery the queue
            // allows) stays; the request is marked failed, so nothing is left stored
            // without a request status and the next ask says it went wrong.
            if let Err(status) = ingest
                .requests
                .finish(
                    &NormalizedName::of(&request.normalized),
                    RequestStatus::Failed,
                )
                .await
            {
                tracing::warn!(reason = %status, "recording the failed request failed");
            }
        }
    }
    result
}

/// Ingests one request. Idempotent: the same request processed twice leaves the same
/// rows and items and publishes the same `ArtistIngested` id.
///
/// A request with a callback URL is answered through it exactly once while Kakao still
/// takes it: with the artist's card, or "not found" with suggestions, when the work ends
/// within [`STILL_LOOKING_AFTER`] of the ask; otherwise, at that moment (at once for a
/// request delivered later), with "still looking — ask again in a moment", and the work
/// goes on. A failed attempt answers "still looking" too (its retry comes after the
/// window), or the failure text when no retry can succeed: the user never meets silence.
pub async fn ingest_request(
    request: &ArtistRequested,
    ingest: &Ingest,
) -> Result<Ingested, IngestError> {
    tracing::info!(request_id = ?request.request_id, query = ?request.query, reason = ?request.reason, "ingesting");
    if request.callback_url.is_none() {
        return Ok(ingest_work(request, ingest).await?.ingested);
    }
    let still_looking_at = request.meta.occurred_at
        + chrono::Duration::from_std(STILL_LOOKING_AFTER).unwrap_or_default();
    let left = (still_looking_at - Utc::now()).to_std().unwrap_or_default();
    let work = ingest_work(request, ingest);
    tokio::pin!(work);
    let early = tokio::select! {
        biased;
        result = &mut work => Some(result),
        () = tokio::time::sleep(left) => None,
    };
    let Some(finished) = early else {
        tracing::info!(request_id = ?request.request_id, "not finished within the callback window; answering still looking");
        callback(request, ingest, || render::still_looking(&request.query)).await;
        return Ok(work.await?.ingested);
    };
    match finished {
        Ok(finished) => {
            let answer = match &finished.card {
                Some(card) => {
                    let similar = similar_cards(&card.artist, ingest).await;
                    render::artist_answer(card, &similar, ingest.callbacks.related_due())
                }
                None => render::not_found(&request.query, &suggestions(request, ingest).await),
            };
            callback(request, ingest, || answer).await;
            Ok(finished.ingested)
        }
        Err(err) => {
            let answer = if err.is_permanent() {
                render::failure()
            } else {
                render::still_looking(&request.query)
            };
            callback(request, ingest, || answer).await;
            Err(err)
        }
    }
}

/// A request's work done: what became of it, and the card of the artist found.
struct Finished {
    ingested: Ingested,
    card: Option<ArtistCard>,
}

/// Resolves, fetches and stores one request, and publishes `ArtistIngested`.
async fn ingest_work(request: &ArtistRequested, ingest: &Ingest) -> Result<Finished, IngestError> {
    // The event's key, checked into a key again (normalizing a key changes nothing).
    let normalized = NormalizedName::of(&request.normalized);
    let Some(artist) = ingest.catalog.resolve(&request.query).await? else {
        ingest
            .requests
            .finish(&normalized, RequestStatus::NotFound)
            .await?;
        tracing::info!(request_id = ?request.request_id, "no such artist in the catalog");
        return Ok(Finished {
            ingested: Ingested::NotFound,
            card: None,
        });
    };
    // Top tracks (with features) and releases are independent calls: made at once.
    let (tracks, releases) = futures::join!(
        ingest.catalog.top_tracks(&artist),
        latest_releases(&artist, ingest)
    );
    let (tracks, releases) = (tracks?, releases?);
    let fetched_at = Utc::now();

    ingest.artists.upsert_artist(&artist).await?;
    if !normalized.is_empty() && normalized != artist.normalized_name() {
        ingest.artists.put_alias(&normalized, &artist.id).await?;
    }
    ingest
        .top_tracks
        .put_top_tracks(&artist.id, &tracks.tracks, fetched_at)
        .await?;
    if let Some(releases) = &releases {
        ingest
            .top_tracks
            .put_latest_releases(&artist.id, releases, fetched_at)
            .await?;
    }

    let event = ArtistIngested {
        meta: EventMeta::with_id(ArtistIngested::VERSION, ingested_id_for(request)),
        query: request.query.clone(),
        artist: artist.clone(),
        tracks: tracks.tracks,
        features: tracks.features,
        releases: releases.unwrap_or_default(),
    };
    ingest
        .publisher
        .publish(&[OutgoingEvent::new(&event, SOURCE_INGEST)?])
        .await?;
    ingest
        .requests
        .finish(&normalized, RequestStatus::Done)
        .await?;
    tracing::info!(
        artist_id = %artist.id,
        tracks = event.tracks.len(),
        features = event.features.len(),
        releases = event.releases.len(),
        event_id = %event.meta.id,
        "ingested"
    );

    let mut card = ArtistCard::new(artist, event.tracks.clone());
    card.latest_release = event
        .releases
        .first()
        .map(|release| LatestRelease::as_of(release.clone(), service_date(Utc::now())));
    Ok(Finished {
        ingested: Ingested::Artist {
            artist_id: event.artist.id,
            tracks: event.tracks.len(),
            features: event.features.len(),
        },
        card: Some(card),
    })
}

/// The artist's latest releases, or `None` when the catalog refused them for good: the
/// artist and its tracks are still ingested and the releases cached earlier are kept.
/// A transient failure fails the request, to be retried whole.
async fn latest_releases(
    artist: &Artist,
    ingest: &Ingest,
) -> Result<Option<Vec<Release>>, IngestError> {
    match ingest
        .catalog
        .latest_releases(artist, ingest.releases_kept)
        .await
    {
        Ok(releases) => Ok(Some(releases)),
        Err(CatalogError::Permanent { reason, .. }) => {
            tracing::warn!(artist_id = %artist.id, %reason, "releases refused by the catalog; ingesting without them");
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// "Did you mean" names for a not-found callback answer, as the chat suggests them: the
/// known names closest to the query. Empty (logged) when the names cannot be read.
async fn suggestions(request: &ArtistRequested, ingest: &Ingest) -> Vec<String> {
    match ingest.artists.known_names().await {
        Ok(names) => NameIndex::new(names).suggest(&request.normalized, render::MAX_SUGGESTIONS),
        Err(err) => {
            tracing::warn!(reason = %err, "known names unavailable for the not-found suggestions");
            Vec::new()
        }
    }
}

/// The similar artists' cards for a callback answer: whatever the datamart already has
/// (often nothing for a new artist, whose neighbours come with the next daily run).
async fn similar_cards(artist: &Artist, ingest: &Ingest) -> Vec<ArtistCard> {
    let related = match ingest
        .related
        .related(&artist.id, render::MAX_SIMILAR as u32)
        .await
    {
        Ok(related) => related,
        Err(err) => {
            tracing::warn!(reason = %err, "related artists unavailable for the callback answer");
            return Vec::new();
        }
    };
    let ids: Vec<ArtistId> = related.iter().map(|(_, a)| a.id.clone()).collect();
    let mut tracks = ingest.top_tracks.top_tracks(&ids).await.unwrap_or_default();
    related
        .into_iter()
        .map(|(_, a)| {
            let own = tracks.remove(&a.id).unwrap_or_default();
            ArtistCard::new(a, own)
        })
        .collect()
}

/// Sends the finished answer when the request carried a callback URL. Never fails the
/// ingest: the outcome is logged by [`Callbacks::send`].
async fn callback(
    request: &ArtistRequested,
    ingest: &Ingest,
    answer: impl FnOnce() -> SkillResponse,
) {
    if let Some(url) = &request.callback_url {
        ingest
            .callbacks
            .send(url, request.meta.occurred_at, &answer())
            .await;
    }
}
