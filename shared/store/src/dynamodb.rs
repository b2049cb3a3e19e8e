//! The top-tracks cache on DynamoDB: one item per (artist, rank), partition key
//! `artist_id` (S), sort key `rank` (N). Written and read in batches sized to AWS's limits
//! (moto accepts more, AWS does not), with unprocessed items and keys retried.
//!
//! The artist's latest releases live in the same partition, as the one item at
//! [`RELEASES_RANK`] (0, below every track rank) holding the list as JSON: the same table,
//! keys and permissions, and a refresh replaces the whole list in one `PutItem`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
    KeysAndAttributes, PutRequest, ScalarAttributeType, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use encore_domain::{ArtistId, FeatureSource, Release, Track, TOP_TRACKS_PER_ARTIST};
use futures::{StreamExt, TryStreamExt};

use crate::ports::{
    check_top_tracks, distinct, releases_from_json, stored_artist_id, stored_track_id,
};
use crate::{BackendError, TopTracksCache};
use encore_backend::from_sdk;

/// AWS's limit on requests in one `BatchWriteItem`.
const BATCH_WRITE_MAX: usize = 25;
/// AWS's limit on keys in one `BatchGetItem`.
const BATCH_GET_MAX: usize = 100;
/// `BatchGetItem` calls in flight at once for one read.
const BATCH_GET_CONCURRENCY: usize = 4;
/// Calls made for one batch before its unprocessed remainder is reported unavailable.
const MAX_ATTEMPTS: u32 = 8;
/// First pause before retrying unprocessed items or keys; doubles on each retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// How long [`create_table`] waits for a new table to become active.
const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(60);

/// The sort key of an artist's releases item: below every track rank
/// (1..=[`TOP_TRACKS_PER_ARTIST`]), so reads and deletes of tracks by rank never touch it.
pub const RELEASES_RANK: u32 = 0;

/// Item attribute names, defined once.
mod attr {
    pub const ARTIST_ID: &str = "artist_id";
    pub const RANK: &str = "rank";
    pub const TRACK_ID: &str = "track_id";
    pub const NAME: &str = "name";
    pub const ALBUM_NAME: &str = "album_name";
    pub const IMAGE_URL: &str = "image_url";
    pub const POPULARITY: &str = "popularity";
    pub const DURATION_MS: &str = "duration_ms";
    pub const SPOTIFY_URL: &str = "spotify_url";
    /// Where the track's features came from: `spotify`, `reccobeats` or `missing`
    /// (absent on items written before provenance was kept).
    pub const FEATURES_SOURCE: &str = "features_source";
    pub const FETCHED_AT: &str = "fetched_at";
    /// The releases item's list, as a JSON array.
    pub const RELEASES: &str = "releases";
}

/// The pause before retry number `attempt` (1-based).
fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1))
}

/// The primary key of one cached track.
fn key(artist_id: &str, rank: u32) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            attr::ARTIST_ID.to_owned(),
            AttributeValue::S(artist_id.to_owned()),
        ),
        (attr::RANK.to_owned(), AttributeValue::N(rank.to_string())),
    ])
}

fn item(track: &Track, artist_id: &str, fetched_at: &str) -> HashMap<String, AttributeValue> {
    let mut item = key(artist_id, track.rank);
    item.insert(
        attr::TRACK_ID.into(),
        AttributeValue::S(track.id.to_string()),
    );
    item.insert(attr::NAME.into(), AttributeValue::S(track.name.clone()));
    item.insert(
        attr::FETCHED_AT.into(),
        AttributeValue::S(fetched_at.to_owned()),
    );
    item.insert(
        attr::FEATURES_SOURCE.into(),
        AttributeValue::S(FeatureSource::label(track.features_source).to_owned()),
    );
    let optional = [
        (
            attr::ALBUM_NAME,
            track.album_name.clone().map(AttributeValue::S),
        ),
        (
            attr::IMAGE_URL,
            track.image_url.clone().map(AttributeValue::S),
        ),
        (
            attr::POPULARITY,
            track.popularity.map(|n| AttributeValue::N(n.to_string())),
        ),
        (
            attr::DURATION_MS,
            track.duration_ms.map(|n| AttributeValue::N(n.to_string())),
        ),
        (
            attr::SPOTIFY_URL,
            track.spotify_url.clone().map(AttributeValue::S),
        ),
    ];
    // Unknown optional fields are left out rather than stored as NULL.
    item.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    item
}

fn string(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<String>, BackendError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
        Some(other) => Err(BackendError::corrupt(format!(
            "top-tracks attribute {name} is not a string: {other:?}"
        ))),
    }
}

fn required_string(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<String, BackendError> {
    string(item, name)?
        .ok_or_else(|| BackendError::corrupt(format!("top-tracks item without {name}")))
}

fn number<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<T>, BackendError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(n)) => n.parse().map(Some).map_err(|_| {
            BackendError::corrupt(format!("top-tracks attribute {name} = {n} is out of range"))
        }),
        Some(other) => Err(BackendError::corrupt(format!(
            "top-tracks attribute {name} is not a number: {other:?}"
        ))),
    }
}

fn track_from_item(item: &HashMap<String, AttributeValue>) -> Result<Track, BackendError> {
    Ok(Track {
        id: stored_track_id(required_string(item, attr::TRACK_ID)?)?,
        name: required_string(item, attr::NAME)?,
        artist_id: stored_artist_id(required_string(item, attr::ARTIST_ID)?)?,
        rank: number(item, attr::RANK)?
            .ok_or_else(|| BackendError::corrupt("top-tracks item without rank"))?,
        album_name: string(item, attr::ALBUM_NAME)?,
        image_url: string(item, attr::IMAGE_URL)?,
        popularity: number(item, attr::POPULARITY)?,
        duration_ms: number(item, attr::DURATION_MS)?,
        spotify_url: string(item, attr::SPOTIFY_URL)?,
        features_source: match string(item, attr::FEATURES_SOURCE)? {
            None => None,
            Some(label) => FeatureSource::from_label(&label).map_err(|reason| {
                BackendError::corrupt(format!(
                    "top-tracks attribute {}: {reason}",
                    attr::FEATURES_SOURCE
                ))
            })?,
        },
    })
}

/// Creates a top-tracks table (on-demand capacity) and waits until it is active: used by
/// tests and the local tools; in AWS the SAM template owns the table.
pub async fn create_table(client: &Client, name: &str) -> Result<(), BackendError> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr::ARTIST_ID)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| BackendError::rejected(e.to_string()))?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr::RANK)
                .attribute_type(ScalarAttributeType::N)
                .build()
                .map_err(|e| BackendError::rejected(e.to_string()))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(attr::ARTIST_ID)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| BackendError::rejected(e.to_string()))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(attr::RANK)
                .key_type(KeyType::Range)
                .build()
                .map_err(|e| BackendError::rejected(e.to_string()))?,
        )
        .send()
        .await
        .map_err(from_sdk)?;
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(TABLE_ACTIVE_WAIT)
        .await
        .map_err(|e| {
            BackendError::unavailable(format!("table {name} did not become active: {e}"))
        })?;
    Ok(())
}

/// [`TopTracksCache`] on a DynamoDB table shaped like [`create_table`]'s.
#[derive(Debug, Clone)]
pub struct DynamoTopTracks {
    client: Client,
    table: String,
}

impl DynamoTopTracks {
    /// The cache in table `table_name`, through `client` (built once per process).
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self {
            client,
            table: table_name.into(),
        }
    }

    /// Sends up to [`BATCH_WRITE_MAX`] write requests, retrying the unprocessed ones with
    /// backoff until none remain or the attempts run out.
    async fn write_batch(&self, mut requests: Vec<WriteRequest>) -> Result<(), BackendError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let output = self
                .client
                .batch_write_item()
                .request_items(self.table.clone(), requests)
                .send()
                .await
                .map_err(from_sdk)?;
            requests = output
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tracing::debug!(
                attempt,
                unprocessed = requests.len(),
                "retrying unprocessed top-tracks writes"
            );
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(BackendError::unavailable(format!(
            "{} top-tracks writes still unprocessed after {MAX_ATTEMPTS} attempts",
            requests.len()
        )))
    }

    /// Reads up to [`BATCH_GET_MAX`] keys, retrying the unprocessed ones with backoff.
    async fn get_batch(
        &self,
        mut keys: Vec<HashMap<String, AttributeValue>>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, BackendError> {
        let mut items = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(|e| BackendError::rejected(e.to_string()))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(self.table.clone(), request)
                .send()
                .await
                .map_err(from_sdk)?;
            if let Some(found) = output
                .responses
                .and_then(|mut responses| responses.remove(&self.table))
            {
                items.extend(found);
            }
            keys = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .map(|pending| pending.keys)
                .unwrap_or_default();
            if keys.is_empty() {
                return Ok(items);
            }
            tracing::debug!(
                attempt,
                unprocessed = keys.len(),
                "retrying unprocessed top-tracks reads"
            );
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(BackendError::unavailable(format!(
            "{} top-tracks reads still unprocessed after {MAX_ATTEMPTS} attempts",
            keys.len()
        )))
    }
}

#[async_trait]
impl TopTracksCache for DynamoTopTracks {
    /// Puts every track and deletes the ranks the list lacks, in batches of 25. Not atomic:
    /// a concurrent reader may briefly see a mix of the old and new lists.
    #[tracing::instrument(skip(self, tracks), fields(table = %self.table, tracks = tracks.len()))]
    async fn put_top_tracks(
        &self,
        artist_id: &ArtistId,
        tracks: &[Track],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        check_top_tracks(artist_id, tracks)?;
        let fetched_at = fetched_at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let puts = tracks.iter().map(|track| {
            let put = PutRequest::builder()
                .set_item(Some(item(track, artist_id.as_str(), &fetched_at)))
                .build();
            put.map(|put| WriteRequest::builder().put_request(put).build())
        });
        let deletes = (1..=TOP_TRACKS_PER_ARTIST)
            .filter(|rank| !tracks.iter().any(|track| track.rank == *rank))
            .map(|rank| {
                let delete = DeleteRequest::builder()
                    .set_key(Some(key(artist_id.as_str(), rank)))
                    .build();
                delete.map(|delete| WriteRequest::builder().delete_request(delete).build())
            });
        let requests = puts
            .chain(deletes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackendError::rejected(e.to_string()))?;
        for chunk in requests.chunks(BATCH_WRITE_MAX) {
            self.write_batch(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// One `BatchGetItem` per 100 keys (every rank of every artist), a few in flight.
    #[tracing::instrument(skip_all, fields(table = %self.table, artists = artist_ids.len()))]
    async fn top_tracks(
        &self,
        artist_ids: &[ArtistId],
    ) -> Result<HashMap<ArtistId, Vec<Track>>, BackendError> {
        let keys: Vec<_> = distinct(artist_ids)
            .into_iter()
            .flat_map(|artist_id| {
                (1..=TOP_TRACKS_PER_ARTIST).map(move |rank| key(artist_id.as_str(), rank))
            })
            .collect();
        let batches: Vec<Vec<_>> =
            futures::stream::iter(keys.chunks(BATCH_GET_MAX).map(<[_]>::to_vec))
                .map(|chunk| self.get_batch(chunk))
                .buffer_unordered(BATCH_GET_CONCURRENCY)
                .try_collect()
                .await?;
        let mut found: HashMap<ArtistId, Vec<Track>> = HashMap::new();
        for item in batches.iter().flatten() {
            let track = track_from_item(item)?;
            found
                .entry(track.artist_id.clone())
                .or_default()
                .push(track);
        }
        for tracks in found.values_mut() {
            tracks.sort_by_key(|track| track.rank);
        }
        Ok(found)
    }
    /// One `PutItem` of the artist's releases item: replaced whole, never half-written.
    #[tracing::instrument(skip(self, releases), fields(table = %self.table, releases = releases.len()))]
    async fn put_latest_releases(
        &self,
        artist_id: &ArtistId,
        releases: &[Release],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        let json =
            serde_json::to_string(releases).map_err(|e| BackendError::rejected(e.to_string()))?;
        let mut item = key(artist_id.as_str(), RELEASES_RANK);
        item.insert(attr::RELEASES.into(), AttributeValue::S(json));
        item.insert(
            attr::FETCHED_AT.into(),
            AttributeValue::S(fetched_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn latest_releases(&self, artist_id: &ArtistId) -> Result<Vec<Release>, BackendError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(artist_id.as_str(), RELEASES_RANK)))
            .send()
            .await
            .map_err(from_sdk)?;
        match output.item {
            None => Ok(Vec::new()),
            Some(item) => {
                let json = required_string(&item, attr::RELEASES)?;
                releases_from_json(artist_id, &json)
            }
        }
    }
}
