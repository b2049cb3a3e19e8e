//! The use case: answer one skill request from the caches, and request artists the caches
//! do not know yet.

use chrono::Utc;
use encore_domain::events::{ArtistRequested, BusEvent, EventMeta, RequestReason, SOURCE_CHAT};
use encore_domain::{ArtistId, NormalizedName};
use encore_kakao::render::{self, ArtistCard, LatestRelease, MAX_SIMILAR, MAX_SUGGESTIONS};
use encore_kakao::SkillRequest;
use encore_messaging::OutgoingEvent;
use encore_platform::metrics::{names, Metrics};
use encore_store::{BackendError, RequestRecord, RequestStatus};
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use crate::answer::{Answer, AnswerKind};
use crate::cache::AnswerCache;
use crate::config::ChatSettings;
use crate::stores::Stores;
use crate::suggestions::Suggestions;

/// The action parameter a block may define to carry the artist's name.
pub const ARTIST_PARAM: &str = "artist";
/// Longest input taken as a name (in characters); longer input gets the help answer.
pub const MAX_QUERY_CHARS: usize = 100;
/// Longest an answer about a known artist waits for the record that a user asked about
/// it (best effort, for the daily refresh): on SQLite that write queues behind every
/// background writer (ingest, a datamart load), and the chat must not. A write still
/// running when the answer goes is left to finish on its own (SQLite) or dropped.
pub const ASKED_RECORD_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
/// Namespace of users' request ids: one id per name and state of its request record.
const USER_REQUEST_NAMESPACE: Uuid = Uuid::from_u128(0x7573_6572_2d72_6571_8000_656e_636f_7265);

/// Why answering failed after a valid request (the user gets the failure answer).
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("reading the caches failed: {0}")]
    Read(#[source] BackendError),
    #[error("publishing ArtistRequested failed: {0}")]
    Publish(#[source] BackendError),
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A name: as typed (trimmed) and normalized.
    Artist {
        text: String,
        normalized: NormalizedName,
    },
    /// Blank, only emoji or punctuation, or longer than a name could be.
    Meaningless,
}

impl Query {
    /// The artist parameter when the block defines one, else the utterance.
    pub fn read(request: &SkillRequest) -> Self {
        Self::parse(&request.param_or_utterance(ARTIST_PARAM))
    }

    /// Classifies `raw` input.
    pub fn parse(raw: &str) -> Self {
        let text = raw.trim();
        if text.chars().count() > MAX_QUERY_CHARS {
            return Self::Meaningless;
        }
        let normalized = NormalizedName::of(text);
        if !normalized.as_str().chars().any(char::is_alphanumeric) {
            return Self::Meaningless;
        }
        Self::Artist {
            text: text.to_owned(),
            normalized,
        }
    }
}

/// The chat service: its stores, its cache and its settings.
pub struct Chat {
    stores: Stores,
    settings: ChatSettings,
    cache: AnswerCache,
    suggestions: Suggestions,
    help: Answer,
    failure: Answer,
}

impl Chat {
    /// A chat over `stores`.
    pub fn new(stores: Stores, settings: ChatSettings) -> Self {
        let cache = AnswerCache::new(settings.cache_ttl, settings.cache_capacity);
        Self {
            stores,
            suggestions: Suggestions::new(settings.cache_ttl),
            settings,
            cache,
            help: Answer::new(AnswerKind::Help, render::help()),
            failure: Answer::new(AnswerKind::Failure, render::failure()),
        }
    }

    /// Drops every cached answer: call it when ingest writes an artist or the datamart
    /// is swapped.
    pub fn invalidate(&self) {
        self.cache.invalidate();
        self.suggestions.invalidate();
    }

    /// The stores, for the runner's wiring and for tests.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The friendly answer given when something fails.
    pub fn failure(&self) -> &Answer {
        &self.failure
    }
}

/// Answers one skill request. Never fails: a failure is logged with its cause and answered
/// with a friendly text, because Kakao shows the user nothing on an error status.
pub async fn handle_skill(request: &SkillRequest, chat: &Chat) -> Answer {
    let started = std::time::Instant::now();
    let hits = chat.cache.hits();
    let answer = match try_handle_skill(request, chat).await {
        Ok(answer) => answer,
        Err(err) => {
            error!(error = %err, "answering a skill request failed");
            chat.failure.clone()
        }
    };
    answer_metrics(answer.kind, chat.cache.hits() > hits, started.elapsed()).emit();
    answer
}

/// The metrics of one answer: its kind, whether it failed (the alarm's metric: a failed
/// answer is still a 200 with a friendly text), whether the cache had it, and the time
/// taken.
fn answer_metrics(kind: AnswerKind, cache_hit: bool, elapsed: std::time::Duration) -> Metrics {
    let mut metrics = Metrics::new("chat");
    metrics
        .count(format!("{}{kind:?}", names::ANSWER_PREFIX), 1)
        .count(names::CHAT_FAILED, u64::from(kind == AnswerKind::Failure))
        .count(names::CACHE_HIT, u64::from(cache_hit))
        .milliseconds(names::LATENCY, elapsed.as_secs_f64() * 1000.0);
    metrics
}

/// Answers one skill request, or says why it could not.
pub async fn try_handle_skill(request: &SkillRequest, chat: &Chat) -> Result<Answer, ChatError> {
    let Query::Artist { text, normalized } = Query::read(request) else {
        return Ok(chat.help.clone());
    };
    if let Some(answer) = known_artist(chat, &normalized).await? {
        return Ok(answer);
    }
    unknown_artist(chat, request, &text, &normalized).await
}

/// The answer about a known artist, from the answer cache or else from the stores in three
/// steps (the artist; its related artists; then at once all their top tracks and the
/// artist's latest releases), then cached. An answer built from the stores records that a
/// user asked about the name, for the daily refresh, waiting at most
/// [`ASKED_RECORD_WAIT`] for it. The release and that record are best effort: when either
/// fails it is logged, and the answer goes out without them.
async fn known_artist(
    chat: &Chat,
    normalized: &NormalizedName,
) -> Result<Option<Answer>, ChatError> {
    let seen = chat.cache.generation();
    if let Some(answer) = chat.cache.get(normalized.as_str()) {
        return Ok(Some(answer));
    }
    let stores = &chat.stores;
    let Some(artist) = stores
        .artists
        .find_artist(normalized)
        .await
        .map_err(ChatError::Read)?
    else {
        return Ok(None);
    };
    let related = stores
        .related
        .related(&artist.id, MAX_SIMILAR as u32)
        .await
        .map_err(ChatError::Read)?;
    let ids: Vec<ArtistId> = std::iter::once(artist.id.clone())
        .chain(related.iter().map(|(_, a)| a.id.clone()))
        .collect();
    let now = Utc::now();
    let (tracks, releases, asked) = tokio::join!(
        stores.top_tracks.top_tracks(&ids),
        stores.top_tracks.latest_releases(&artist.id),
        tokio::time::timeout(ASKED_RECORD_WAIT, stores.requests.asked(normalized, now)),
    );
    match asked {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            warn!(error = %err, "recording that a user asked about a known artist failed")
        }
        Err(_) => debug!(
            waited_ms = ASKED_RECORD_WAIT.as_millis() as u64,
            "recording that a user asked about a known artist is slow; answering without it"
        ),
    }
    let mut tracks = tracks.map_err(ChatError::Read)?;
    // The newest release; an unreadable releases entry leaves the row out, not the answer.
    let latest_release = match releases {
        Ok(releases) => releases.into_iter().next(),
        Err(err) => {
            warn!(error = %err, artist_id = %artist.id, "reading the latest releases failed");
            None
        }
    }
    .map(|release| LatestRelease::as_of(release, encore_domain::service_date(now)));
    let mut card_of = |artist: encore_domain::Artist| {
        let tracks = tracks.remove(&artist.id).unwrap_or_default();
        ArtistCard::new(artist, tracks)
    };
    let card = ArtistCard {
        latest_release,
        ..card_of(artist)
    };
    let similar: Vec<ArtistCard> = related.into_iter().map(|(_, a)| card_of(a)).collect();
    let kind = if similar.is_empty() {
        AnswerKind::WithoutRelated
    } else {
        AnswerKind::Related
    };
    let answer = Answer::new(
        kind,
        render::artist_answer(&card, &similar, chat.settings.related_due),
    );
    chat.cache.insert(normalized.as_str(), answer.clone(), seen);
    Ok(Some(answer))
}

/// True when `at` is less than `window` before `now`.
fn within(
    now: chrono::DateTime<Utc>,
    at: chrono::DateTime<Utc>,
    window: std::time::Duration,
) -> bool {
    (now - at).to_std().map_or(true, |age| age < window)
}

/// The answer about a name the stores do not know, decided by its request record: "not
/// found" (with suggestions) while ingest's no-such-artist result is less than a day old,
/// "looking it up" while a request is pending within the claim window, and otherwise a
/// new request (said plainly when ingest gave up on the last one).
async fn unknown_artist(
    chat: &Chat,
    request: &SkillRequest,
    text: &str,
    normalized: &NormalizedName,
) -> Result<Answer, ChatError> {
    let now = Utc::now();
    let record = chat
        .stores
        .requests
        .record(normalized)
        .await
        .map_err(ChatError::Read)?;
    match record {
        Some(RequestRecord {
            status: RequestStatus::NotFound,
            finished_at: Some(at),
            ..
        }) if within(now, at, chat.settings.not_found_retry_after) => {
            Ok(not_found(chat, text, normalized).await)
        }
        Some(RequestRecord {
            status: RequestStatus::Pending,
            requested_at,
            ..
        }) if within(now, requested_at, chat.settings.claim_window) => {
            Ok(Answer::new(AnswerKind::LookingUp, render::looking_up(text)))
        }
        Some(RequestRecord {
            status: RequestStatus::Failed,
            ..
        }) => {
            // Ingest gave up on the last request: said plainly, and requested again.
            let answer =
                request_artist(chat, request, text, normalized, record.as_ref(), now).await?;
            Ok(match answer.kind {
                AnswerKind::LookingUp => Answer::new(AnswerKind::Retrying, render::retrying(text)),
                _ => answer,
            })
        }
        _ => request_artist(chat, request, text, normalized, record.as_ref(), now).await,
    }
}

/// The not-found answer with up to [`MAX_SUGGESTIONS`] known names close to `normalized`;
/// without suggestions when they cannot be read (logged).
async fn not_found(chat: &Chat, text: &str, normalized: &NormalizedName) -> Answer {
    let suggestions = chat
        .suggestions
        .suggest(
            chat.stores.artists.as_ref(),
            normalized.as_str(),
            MAX_SUGGESTIONS,
        )
        .await
        .unwrap_or_else(|err| {
            warn!(error = %err, "reading the known names for suggestions failed");
            Vec::new()
        });
    Answer::new(AnswerKind::NotFound, render::not_found(text, &suggestions))
}

/// The id of a user's request for `normalized` when its request record reads `record`:
/// every ask that sees the same record (asks racing past each other's claim, or the ask
/// after one cut off between publishing and claiming) requests with the same id, so they
/// publish one logical event (ingest derives one `ArtistIngested` id from it).
pub fn request_id_for(normalized: &str, record: Option<&RequestRecord>) -> Uuid {
    let state = match record {
        None => "none".to_owned(),
        Some(record) => format!(
            "{}\n{}\n{}",
            record.status.as_str(),
            record.requested_at.timestamp_millis(),
            record.finished_at.map_or(-1, |at| at.timestamp_millis())
        ),
    };
    let key = format!("user\n{normalized}\n{state}");
    Uuid::new_v5(&USER_REQUEST_NAMESPACE, key.as_bytes())
}

/// Requests an unknown artist and answers at once: a callback acknowledgement when Kakao
/// gave an allowed callback URL (ingest completes the answer), else the looking-up text.
///
/// The event is published *before* the request is claimed: a claim exists only for a
/// request that is on the bus. A client that disconnects, a crash or a timeout at any
/// point therefore leaves either nothing (and the next ask publishes) or a queued event
/// (with or without its claim), never a claim with nothing queued. The price is that two
/// asks racing past each other's record read both publish; [`request_id_for`] gives them
/// one event id, and ingest is idempotent. (An outbox written with the claim would need
/// a relay beside the chat Lambda, and no transaction spans MySQL and EventBridge.)
async fn request_artist(
    chat: &Chat,
    request: &SkillRequest,
    text: &str,
    normalized: &NormalizedName,
    record: Option<&RequestRecord>,
    now: chrono::DateTime<Utc>,
) -> Result<Answer, ChatError> {
    let stores = &chat.stores;
    let callback_url = match request.user_request.callback_url.as_deref() {
        Some(url) if chat.settings.callback_hosts.allows(url) => Some(url.to_owned()),
        Some(_) => {
            warn!("ignoring a callback URL outside the allowed hosts");
            None
        }
        None => None,
    };
    let id = request_id_for(normalized.as_str(), record);
    let event = ArtistRequested {
        meta: EventMeta::with_id(ArtistRequested::VERSION, id),
        query: text.to_owned(),
        normalized: normalized.to_string(),
        requested_by: Some(request.user_request.user.id.clone()),
        callback_url,
        request_id: id.to_string(),
        reason: RequestReason::User,
    };
    let outgoing = OutgoingEvent::new(&event, SOURCE_CHAT).map_err(ChatError::Publish)?;
    stores
        .events
        .publish(&[outgoing])
        .await
        .map_err(ChatError::Publish)?;
    // The event is queued: a failed claim only means the next ask may publish again.
    match stores
        .requests
        .claim(normalized, now, chat.settings.claim_window)
        .await
    {
        Ok(true) => {}
        Ok(false) => debug!("another ask claimed the request meanwhile"),
        Err(err) => warn!(error = %err, "claiming the published request failed"),
    }
    info!(request_id = ?event.request_id, callback = event.callback_url.is_some(), "requested an unknown artist");
    Ok(match event.callback_url {
        Some(_) => Answer::new(AnswerKind::Waiting, render::waiting(text)),
        None => Answer::new(AnswerKind::LookingUp, render::looking_up(text)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_answer_is_counted_for_the_alarm() {
        let failed = answer_metrics(
            AnswerKind::Failure,
            false,
            std::time::Duration::from_millis(3),
        );
        assert_eq!(failed.value(names::CHAT_FAILED), Some(1.0));
        assert_eq!(failed.value("AnswerFailure"), Some(1.0));
        assert_eq!(failed.value(names::LATENCY), Some(3.0));
        let cached = answer_metrics(AnswerKind::Related, true, std::time::Duration::ZERO);
        assert_eq!(cached.value(names::CHAT_FAILED), Some(0.0));
        assert_eq!(cached.value(names::CACHE_HIT), Some(1.0));
        assert_eq!(cached.value("AnswerRelated"), Some(1.0));
    }

    #[test]
    fn queries_are_classified() {
        assert_eq!(
            Query::parse("  BTS "),
            Query::Artist {
                text: "BTS".into(),
                normalized: NormalizedName::from_stored("bts".into())
            }
        );
        assert_eq!(
            Query::parse("방탄소년단"),
            Query::Artist {
                text: "방탄소년단".into(),
                normalized: NormalizedName::from_stored("방탄소년단".into())
            }
        );
        assert!(matches!(Query::parse("2NE1"), Query::Artist { .. }));
        for meaningless in ["", "   ", "🎵🎶", "?!...", "\u{200B}", &"a".repeat(101)] {
            assert_eq!(
                Query::parse(meaningless),
                Query::Meaningless,
                "{meaningless:?}"
            );
        }
        assert!(matches!(
            Query::parse(&"a".repeat(100)),
            Query::Artist { .. }
        ));
    }

    #[test]
    fn the_artist_parameter_wins_over_the_utterance() {
        let raw = r#"{"userRequest":{"utterance":"노래 추천해줘 아이유","user":{"id":"u"}},
            "action":{"params":{"artist":"아이유"}}}"#;
        let request: SkillRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(Query::read(&request), Query::parse("아이유"));
        let raw = r#"{"userRequest":{"utterance":"Red Velvet","user":{"id":"u"}},"action":{"params":{}}}"#;
        let request: SkillRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(Query::read(&request), Query::parse("Red Velvet"));
    }
}
