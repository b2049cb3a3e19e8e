//! Conformance suites of the relational and top-tracks ports, run on every adapter:
//! SQLite in-process, MySQL on the test stack's MariaDB (a fresh database per test) and
//! DynamoDB on the test stack's moto server (a table per test).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use encore_domain::release::{AlbumType, ReleaseDate};
use encore_domain::{
    Artist, ArtistId, NormalizedName, RelatedArtist, RelatedSnapshot, Release, Track,
};
use encore_store::dynamodb::{create_table, DynamoTopTracks};
use encore_store::migrate::{self, tables};
use encore_store::mysql::MySqlStore;
use encore_store::sqlite::SqliteStore;
use encore_store::{
    ArtistStore, BackendError, DatamartWatermark, RelatedStore, RequestLog, RequestRecord,
    RequestStatus, TopTracksCache,
};
use encore_test_support::{aws_config, TestDatabase};
use sqlx::mysql::MySqlPoolOptions;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// A 22-character id like Spotify's, distinct per `n`.
fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:0>width$}", width = 22 - prefix.len())
}

/// [`id`] as an artist id.
fn artist_id(prefix: &str, n: usize) -> ArtistId {
    id(prefix, n).parse().unwrap()
}

/// A name's matching key.
fn key(name: &str) -> NormalizedName {
    NormalizedName::of(name)
}

fn artist(id: &(impl AsRef<str> + ?Sized), name: &str) -> Artist {
    let id = id.as_ref();
    Artist {
        id: id.parse().unwrap(),
        name: name.to_owned(),
        popularity: Some(50),
        followers: Some(1_000),
        genres: vec!["k-pop".into()],
        image_url: Some(format!("https://i.scdn.co/image/{id}")),
        spotify_url: Some(format!("https://open.spotify.com/artist/{id}")),
    }
}

fn related(
    artist_id: &(impl AsRef<str> + ?Sized),
    rank: u32,
    related_id: &(impl AsRef<str> + ?Sized),
    distance: f64,
    snapshot: &str,
) -> RelatedArtist {
    RelatedArtist {
        artist_id: artist_id.as_ref().parse().unwrap(),
        rank,
        related_id: related_id.as_ref().parse().unwrap(),
        distance,
        snapshot: snapshot.to_owned(),
    }
}

fn track(artist_id: &(impl AsRef<str> + ?Sized), rank: u32, name: &str) -> Track {
    let artist_id = artist_id.as_ref();
    Track {
        id: format!("t{rank:0>2}{}", &artist_id[..19]).parse().unwrap(),
        name: name.to_owned(),
        artist_id: artist_id.parse().unwrap(),
        rank,
        album_name: Some(format!("album of {name}")),
        image_url: Some("https://i.scdn.co/image/album".into()),
        popularity: Some(90 - rank),
        duration_ms: Some(200_000 + rank),
        spotify_url: Some(format!("https://open.spotify.com/track/{rank}")),
        features_source: None,
    }
}

/// A whole-millisecond instant (both databases keep milliseconds), in 2033: later than
/// any `Utc::now()` the stores record themselves.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(2_000_000_000_000 + seconds * 1_000)
        .single()
        .expect("valid instant")
}

// ---------------------------------------------------------------------------------------
// The conformance suites, one per port
// ---------------------------------------------------------------------------------------

async fn artist_store_conformance(store: &impl ArtistStore) {
    let bts = artist(&id("bts", 1), "BTS");
    store.upsert_artist(&bts).await.unwrap();
    let renamed = Artist {
        name: "  Ｂangtan Boys ".into(),
        popularity: Some(99),
        followers: None,
        genres: vec!["k-pop".into(), "pop".into()],
        image_url: None,
        ..bts.clone()
    };
    store.upsert_artist(&renamed).await.unwrap();
    let found = store.artists(std::slice::from_ref(&bts.id)).await.unwrap();
    assert_eq!(
        found,
        vec![renamed.clone()],
        "upserting twice keeps one row with the latest fields"
    );

    // Found by the normalized new name, no longer by the old one.
    assert_eq!(
        store
            .find_artist(&NormalizedName::of("bangtan boys"))
            .await
            .unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(store.find_artist(&key("bts")).await.unwrap(), None);
    assert_eq!(
        store.find_artist(&key("nobody at all")).await.unwrap(),
        None
    );

    // A learned alias, recorded twice, then re-pointed to another artist.
    let twice = artist(&id("twice", 2), "TWICE");
    store.upsert_artist(&twice).await.unwrap();
    store.put_alias(&key("방탄소년단"), &bts.id).await.unwrap();
    store.put_alias(&key("방탄소년단"), &bts.id).await.unwrap();
    assert_eq!(
        store
            .find_artist(&key("방탄소년단"))
            .await
            .unwrap()
            .map(|a| a.id),
        Some(bts.id.clone())
    );
    store
        .put_alias(&key("방탄소년단"), &twice.id)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_artist(&key("방탄소년단"))
            .await
            .unwrap()
            .map(|a| a.id),
        Some(twice.id.clone())
    );

    // A catalog name beats an alias spelled the same.
    store.put_alias(&key("twice"), &bts.id).await.unwrap();
    assert_eq!(
        store
            .find_artist(&key("twice"))
            .await
            .unwrap()
            .map(|a| a.id),
        Some(twice.id.clone())
    );
    // An alias to an artist missing from the catalog finds nothing.
    store
        .put_alias(&key("ghost"), &artist_id("ghost", 3))
        .await
        .unwrap();
    assert_eq!(store.find_artist(&key("ghost")).await.unwrap(), None);

    // Unicode and emoji names round-trip and match by their normalized form.
    let emoji = artist(&id("emoji", 4), "Ｒｅｄ Velvet 🎀 \"<b>\"");
    store.upsert_artist(&emoji).await.unwrap();
    assert_eq!(
        store
            .find_artist(&NormalizedName::of("red velvet 🎀 \"<b>\""))
            .await
            .unwrap(),
        Some(emoji.clone())
    );

    // Lookup by ids: unknown ids are skipped, repeated ids read once, empty is empty.
    let ids = vec![
        twice.id.clone(),
        artist_id("unknown", 5),
        bts.id.clone(),
        twice.id.clone(),
    ];
    let mut found: Vec<ArtistId> = store
        .artists(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    found.sort();
    let mut expected = vec![bts.id.clone(), twice.id.clone()];
    expected.sort();
    assert_eq!(found, expected);
    assert!(store.artists(&[]).await.unwrap().is_empty());

    // Every name the chat answers, with the artist's name: normalized names and aliases
    // of stored artists (the alias of a missing artist is no name).
    let mut names: Vec<(String, String)> = store
        .known_names()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.key, n.display))
        .collect();
    names.sort();
    let mut expected: Vec<(String, String)> = [
        ("bangtan boys", renamed.name.as_str()),
        ("twice", "TWICE"),
        (emoji.normalized_name().as_str(), emoji.name.as_str()),
        ("방탄소년단", "TWICE"),
        ("twice", renamed.name.as_str()),
    ]
    .into_iter()
    .map(|(k, d)| (k.to_owned(), d.to_owned()))
    .collect();
    expected.sort();
    assert_eq!(names, expected);
}

async fn related_store_conformance(store: &(impl ArtistStore + RelatedStore)) {
    let ids: Vec<ArtistId> = (0..6).map(|n| artist_id("rel", n)).collect();
    for (n, artist_id) in ids.iter().enumerate() {
        store
            .upsert_artist(&artist(artist_id, &format!("Artist {n} 🎵")))
            .await
            .unwrap();
    }
    let missing = id("missing", 9);
    let snapshot = vec![
        related(&ids[0], 3, &ids[3], 0.3, "2026-11-24"),
        related(&ids[0], 1, &ids[1], 0.1, "2026-11-24"),
        related(&ids[0], 2, &missing, 0.2, "2026-11-24"),
        related(&ids[0], 4, &ids[4], 0.4, "2026-11-24"),
        related(&ids[0], 5, &ids[5], 0.5, "2026-11-24"),
        related(&ids[1], 1, &ids[0], 0.1, "2026-11-24"),
    ];
    store
        .replace_related(&RelatedSnapshot::from_rows(&snapshot).unwrap())
        .await
        .unwrap();

    // Ordered by rank, limited, joined with the catalog, the missing id skipped.
    let first = store.related(&ids[0], 3).await.unwrap();
    let got: Vec<(u32, &str, &str)> = first
        .iter()
        .map(|(r, a)| (r.rank, r.related_id.as_str(), a.name.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, ids[1].as_str(), "Artist 1 🎵"),
            (3, ids[3].as_str(), "Artist 3 🎵"),
            (4, ids[4].as_str(), "Artist 4 🎵")
        ]
    );
    assert_eq!(first[0].0, snapshot[1]);
    assert_eq!(first[0].1, artist(&ids[1], "Artist 1 🎵"));
    assert_eq!(store.related(&ids[0], 10).await.unwrap().len(), 4);
    assert!(store.related(&ids[2], 4).await.unwrap().is_empty());
    assert!(store
        .related(&artist_id("nobody", 7), 4)
        .await
        .unwrap()
        .is_empty());

    // The export: every row whose artists are both known, by artist then rank, with names.
    let export = store.export_related().await.unwrap();
    let keys: Vec<(&str, u32)> = export
        .iter()
        .map(|r| (r.artist_id.as_str(), r.rank))
        .collect();
    assert_eq!(
        keys,
        vec![
            (ids[0].as_str(), 1),
            (ids[0].as_str(), 3),
            (ids[0].as_str(), 4),
            (ids[0].as_str(), 5),
            (ids[1].as_str(), 1)
        ]
    );
    assert_eq!(export[0].artist_name, "Artist 0 🎵");
    assert_eq!(export[0].related_name, "Artist 1 🎵");
    assert_eq!(export[0].distance, 0.1);

    // A replacement replaces fully: rows of the old snapshot are gone.
    let next = vec![related(&ids[2], 1, &ids[3], 0.7, "2026-11-25")];
    store
        .replace_related(&RelatedSnapshot::from_rows(&next).unwrap())
        .await
        .unwrap();
    assert!(store.related(&ids[0], 10).await.unwrap().is_empty());
    let now = store.related(&ids[2], 10).await.unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].0, next[0]);

    // A failing replacement (a repeated key) is refused as a duplicate (a unique violation,
    // no longer a bare rejection) and leaves the datamart as it was.
    let broken = vec![
        related(&ids[4], 1, &ids[5], 0.1, "2026-11-26"),
        related(&ids[4], 1, &ids[3], 0.2, "2026-11-26"),
    ];
    let err = store
        .replace_related(&RelatedSnapshot::from_rows(&broken).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Duplicate { .. }), "{err}");
    assert_eq!(store.related(&ids[2], 10).await.unwrap()[0].0, next[0]);
    assert!(store.related(&ids[4], 10).await.unwrap().is_empty());

    // An empty replacement empties the datamart.
    store
        .replace_related(&RelatedSnapshot::default())
        .await
        .unwrap();
    assert!(store.export_related().await.unwrap().is_empty());
}

async fn request_log_conformance(store: &impl RequestLog) {
    let window = Duration::from_secs(300);
    assert_eq!(store.status(&key("bts")).await.unwrap(), None);

    // The first claim wins; a repeat inside the window does not; after it, it does again.
    assert!(store.claim(&key("bts"), at(0), window).await.unwrap());
    assert_eq!(
        store.status(&key("bts")).await.unwrap(),
        Some(RequestStatus::Pending)
    );
    assert!(!store.claim(&key("bts"), at(0), window).await.unwrap());
    assert!(!store.claim(&key("bts"), at(299), window).await.unwrap());
    assert!(
        store.claim(&key("bts"), at(300), window).await.unwrap(),
        "a pending request older than the window is stale"
    );
    assert!(
        !store.claim(&key("bts"), at(301), window).await.unwrap(),
        "the new claim restarted the window"
    );

    // A finished request can be claimed again at once, whatever its end.
    for status in [
        RequestStatus::Done,
        RequestStatus::NotFound,
        RequestStatus::Failed,
    ] {
        store.finish(&key("bts"), status).await.unwrap();
        assert_eq!(store.status(&key("bts")).await.unwrap(), Some(status));
        assert!(store.claim(&key("bts"), at(302), window).await.unwrap());
        assert!(!store.claim(&key("bts"), at(303), window).await.unwrap());
    }

    // Finishing a request never claimed records it.
    store
        .finish(&key("방탄소년단"), RequestStatus::Done)
        .await
        .unwrap();
    assert_eq!(
        store.status(&key("방탄소년단")).await.unwrap(),
        Some(RequestStatus::Done)
    );

    // Names are independent; asked_since includes its bound and nothing earlier, and a
    // request finished without a user asking (a backfill) is not "asked about".
    assert!(store.claim(&key("twice"), at(1_000), window).await.unwrap());
    assert!(store
        .claim(&key("🎀 red velvet"), at(2_000), window)
        .await
        .unwrap());
    assert_eq!(
        store.asked_since(at(1_000)).await.unwrap(),
        vec!["twice".to_owned(), "🎀 red velvet".to_owned()]
    );
    assert_eq!(
        store.asked_since(at(1_001)).await.unwrap(),
        vec!["🎀 red velvet".to_owned()]
    );
    assert!(store.asked_since(at(2_001)).await.unwrap().is_empty());

    // Asking about a known artist (answered from the cache) counts, keeps the request's
    // status, and an older report never moves the time back.
    store.asked(&key("방탄소년단"), at(3_000)).await.unwrap();
    store.asked(&key("방탄소년단"), at(2_500)).await.unwrap();
    assert_eq!(
        store.asked_since(at(3_000)).await.unwrap(),
        vec!["방탄소년단".to_owned()]
    );
    assert_eq!(
        store.status(&key("방탄소년단")).await.unwrap(),
        Some(RequestStatus::Done)
    );
    store.asked(&key("iu"), at(3_100)).await.unwrap();
    assert_eq!(
        store.status(&key("iu")).await.unwrap(),
        Some(RequestStatus::Done)
    );
    assert_eq!(
        store.asked_since(at(3_000)).await.unwrap(),
        vec!["iu".to_owned(), "방탄소년단".to_owned()]
    );
    store.finish(&key("iu"), RequestStatus::Done).await.unwrap();
    assert_eq!(
        store.asked_since(at(3_100)).await.unwrap(),
        vec!["iu".to_owned()],
        "finishing keeps asked_at"
    );

    // The whole record: when it was claimed, and when its result was recorded.
    assert_eq!(store.record(&key("nobody")).await.unwrap(), None);
    assert!(store.claim(&key("zzyzx"), at(4_000), window).await.unwrap());
    assert_eq!(
        store.record(&key("zzyzx")).await.unwrap(),
        Some(RequestRecord {
            status: RequestStatus::Pending,
            requested_at: at(4_000),
            finished_at: None
        })
    );
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    store
        .finish(&key("zzyzx"), RequestStatus::NotFound)
        .await
        .unwrap();
    let after = Utc::now() + chrono::Duration::milliseconds(1);
    let record = store.record(&key("zzyzx")).await.unwrap().unwrap();
    assert_eq!(record.status, RequestStatus::NotFound);
    assert_eq!(record.requested_at, at(4_000));
    let finished = record.finished_at.expect("finishing records when");
    assert!(before <= finished && finished <= after, "{finished}");
    // A not-found name is no longer refreshed; a new claim clears the result's time.
    assert!(store.asked_since(at(4_000)).await.unwrap().is_empty());
    assert!(store.claim(&key("zzyzx"), at(4_001), window).await.unwrap());
    assert_eq!(
        store
            .record(&key("zzyzx"))
            .await
            .unwrap()
            .unwrap()
            .finished_at,
        None
    );
    assert_eq!(
        store.asked_since(at(4_000)).await.unwrap(),
        vec!["zzyzx".to_owned()]
    );
}

fn release(id: &str, date: &str, album_type: AlbumType) -> Release {
    Release {
        id: id.to_owned(),
        name: format!("{id} 💜 \"봄날\""),
        album_type,
        release_date: ReleaseDate::parse(date).unwrap(),
        image_url: Some(format!("https://i.scdn.co/image/{id}")),
        spotify_url: None,
        primary_artist: true,
        total_tracks: Some(8),
    }
}

/// The releases part of the cache: replaced as a whole, idempotent, independent of the
/// top tracks (replacing or removing tracks keeps the releases, and back).
async fn latest_releases_conformance(cache: &impl TopTracksCache) {
    let bts = artist_id("rel", 1);
    assert!(cache.latest_releases(&bts).await.unwrap().is_empty());
    let three = vec![
        release(&id("album", 1), "2026-11-20", AlbumType::Album),
        release(&id("album", 2), "2026-10", AlbumType::Single),
        release(&id("album", 3), "2019", AlbumType::Album),
    ];
    cache
        .put_latest_releases(&bts, &three, at(0))
        .await
        .unwrap();
    cache
        .put_latest_releases(&bts, &three, at(0))
        .await
        .unwrap();
    assert_eq!(
        cache.latest_releases(&bts).await.unwrap(),
        three,
        "order and precisions kept"
    );

    let tracks: Vec<Track> = (1..=10).map(|rank| track(&bts, rank, "t")).collect();
    cache.put_top_tracks(&bts, &tracks, at(10)).await.unwrap();
    cache.put_top_tracks(&bts, &[], at(20)).await.unwrap();
    assert_eq!(
        cache.latest_releases(&bts).await.unwrap(),
        three,
        "tracks leave releases alone"
    );
    cache.put_top_tracks(&bts, &tracks, at(30)).await.unwrap();

    let newer = vec![release(&id("album", 4), "2026-11-25", AlbumType::Single)];
    cache
        .put_latest_releases(&bts, &newer, at(60))
        .await
        .unwrap();
    assert_eq!(
        cache.latest_releases(&bts).await.unwrap(),
        newer,
        "a new list replaces the old"
    );
    assert_eq!(
        cache
            .top_tracks(std::slice::from_ref(&bts))
            .await
            .unwrap()
            .get(&bts),
        Some(&tracks),
        "releases leave tracks alone"
    );
    cache.put_latest_releases(&bts, &[], at(120)).await.unwrap();
    assert!(cache.latest_releases(&bts).await.unwrap().is_empty());
}

async fn top_tracks_conformance(cache: &impl TopTracksCache) {
    latest_releases_conformance(cache).await;
    let bts = artist_id("bts", 1);
    let ten: Vec<Track> = (1..=10)
        .map(|rank| track(&bts, rank, &format!("Song {rank}")))
        .collect();
    cache.put_top_tracks(&bts, &ten, at(0)).await.unwrap();
    cache.put_top_tracks(&bts, &ten, at(0)).await.unwrap();
    let got = cache.top_tracks(std::slice::from_ref(&bts)).await.unwrap();
    assert_eq!(
        got.get(&bts),
        Some(&ten),
        "the same list twice leaves the same items, by rank"
    );

    // A shorter list removes the ranks it lacks; unknown fields round-trip as None.
    let mut three: Vec<Track> = (1..=3)
        .map(|rank| track(&bts, rank, &format!("New {rank} 💜 \"봄날\"")))
        .collect();
    three[2] = Track {
        album_name: None,
        image_url: None,
        popularity: None,
        duration_ms: None,
        spotify_url: None,
        ..three[2].clone()
    };
    cache.put_top_tracks(&bts, &three, at(60)).await.unwrap();
    assert_eq!(
        cache
            .top_tracks(std::slice::from_ref(&bts))
            .await
            .unwrap()
            .get(&bts),
        Some(&three)
    );

    // An empty list removes the artist.
    cache.put_top_tracks(&bts, &[], at(120)).await.unwrap();
    assert!(cache
        .top_tracks(std::slice::from_ref(&bts))
        .await
        .unwrap()
        .is_empty());

    // Bad lists are rejected: a rank out of range, a repeated rank, another artist's track.
    let other = id("other", 2);
    for bad in [
        vec![track(&bts, 11, "x")],
        vec![track(&bts, 0, "x")],
        vec![track(&bts, 1, "x"), track(&bts, 1, "y")],
        vec![track(&other, 1, "x")],
    ] {
        let err = cache.put_top_tracks(&bts, &bad, at(0)).await.unwrap_err();
        assert!(matches!(err, BackendError::Rejected { .. }), "{err}");
    }

    // Many artists in one call (15 artists x 10 ranks = 150 keys: more than one batch),
    // with artists lacking tracks, unknown and repeated ids.
    let artists: Vec<ArtistId> = (0..15).map(|n| artist_id("many", n)).collect();
    for (n, artist_id) in artists.iter().enumerate() {
        let tracks: Vec<Track> = (1..=(n as u32 % 11))
            .map(|rank| track(artist_id, rank, &format!("{n}-{rank} 🎶")))
            .collect();
        cache
            .put_top_tracks(artist_id, &tracks, at(0))
            .await
            .unwrap();
    }
    let mut asked = artists.clone();
    asked.push(artist_id("unknown", 99));
    asked.push(artists[3].clone());
    let got = cache.top_tracks(&asked).await.unwrap();
    let expected: HashMap<ArtistId, Vec<Track>> = artists
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 11 != 0)
        .map(|(n, artist_id)| {
            (
                artist_id.clone(),
                (1..=(n as u32 % 11))
                    .map(|rank| track(artist_id, rank, &format!("{n}-{rank} 🎶")))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(cache.top_tracks(&[]).await.unwrap().is_empty());
}

/// While `replace_related` installs distinct snapshots one after another, a reader polling
/// `related()` and `export_related()` sees only whole snapshots: every row of one read
/// carries the same snapshot date, and the read has that snapshot's full row count.
async fn replace_is_atomic(
    writer: impl ArtistStore + RelatedStore + 'static,
    reader: impl RelatedStore + 'static,
) {
    const ARTISTS: usize = 40;
    const RANKS: u32 = 10;
    const RUNS: u32 = 8;
    let ids: Vec<ArtistId> = (0..ARTISTS).map(|n| artist_id("swap", n)).collect();
    for artist_id in &ids {
        writer
            .upsert_artist(&artist(artist_id, artist_id.as_str()))
            .await
            .unwrap();
    }
    // Snapshot `run` gives artist i the ranks 1..=RANKS with distances encoding the run.
    let snapshot = |run: u32| -> Vec<RelatedArtist> {
        let date = format!("2026-11-{:02}", run + 1);
        ids.iter()
            .enumerate()
            .flat_map(|(i, artist_id)| {
                let ids = &ids;
                let date = date.clone();
                (1..=RANKS).map(move |rank| {
                    let related_id = &ids[(i + rank as usize) % ARTISTS];
                    related(
                        artist_id,
                        rank,
                        related_id,
                        f64::from(run) * 100.0 + f64::from(rank),
                        &date,
                    )
                })
            })
            .collect()
    };
    writer
        .replace_related(&RelatedSnapshot::from_rows(&snapshot(0)).unwrap())
        .await
        .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let reader_done = Arc::clone(&done);
    let watched = ids[7].clone();
    let polling = tokio::spawn(async move {
        let mut reads = 0_u32;
        let mut seen = HashSet::new();
        while !reader_done.load(Ordering::Relaxed) {
            let rows = reader.related(&watched, RANKS).await.unwrap();
            assert_eq!(
                rows.len(),
                RANKS as usize,
                "related() saw a partial snapshot"
            );
            let dates: HashSet<&str> = rows.iter().map(|(r, _)| r.snapshot.as_str()).collect();
            assert_eq!(dates.len(), 1, "related() mixed snapshots: {dates:?}");
            let run = (rows[0].0.distance / 100.0).floor();
            for (r, _) in &rows {
                assert_eq!(
                    r.distance,
                    run * 100.0 + f64::from(r.rank),
                    "a row of another snapshot"
                );
            }
            seen.insert(rows[0].0.snapshot.clone());

            let export = reader.export_related().await.unwrap();
            assert_eq!(
                export.len(),
                ARTISTS * RANKS as usize,
                "export_related() saw a partial snapshot"
            );
            let runs: HashSet<u64> = export
                .iter()
                .map(|r| (r.distance / 100.0).floor() as u64)
                .collect();
            assert_eq!(runs.len(), 1, "export_related() mixed snapshots: {runs:?}");
            reads += 1;
        }
        (reads, seen.len())
    });
    for run in 1..=RUNS {
        writer
            .replace_related(&RelatedSnapshot::from_rows(&snapshot(run)).unwrap())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done.store(true, Ordering::Relaxed);
    let (reads, snapshots_seen) = polling.await.unwrap();
    assert!(
        reads > 0 && snapshots_seen > 1,
        "the reader must overlap the replacements ({reads} reads, {snapshots_seen} snapshots)"
    );
    let last = writer.related(&ids[7], RANKS).await.unwrap();
    assert!(last
        .iter()
        .all(|(r, _)| r.snapshot == format!("2026-11-{:02}", RUNS + 1)));
}

/// Text that breaks SQL built by pasting strings, in MySQL's and SQLite's dialects: quotes
/// of every kind, backslash escapes (MySQL's default `sql_mode` reads `\'` as a quote),
/// comments, statement separators, LIKE wildcards, placeholders, a NUL and non-ASCII.
const HOSTILE: [&str; 12] = [
    "'; DROP TABLE artists; --",
    "Robert'); DROP TABLE requests;--",
    "\\'; DROP TABLE related_artists; --",
    "' OR '1'='1",
    "\" OR \"\"=\"",
    "trailing backslash \\",
    "100% _wild_ [x]",
    "O'Brien \u{2019}s \u{ff07}quote\u{ff07}",
    "`tick` $$dollar$$ ? ?1 :named @v",
    "semi;colon /* comment */ -- dash #hash",
    "nul\0byte",
    "\u{1F3B5} 방탄'소년단 \\\\\"",
];

/// Every path that writes or matches user or catalog text, fed [`HOSTILE`]: each string
/// is stored and read back exactly, matches only itself, a snapshot label that is not a
/// date is refused alike on every adapter, and every table is still there.
async fn hostile_text_conformance(store: &(impl ArtistStore + RelatedStore + RequestLog)) {
    let window = Duration::from_secs(60);
    let ids: Vec<ArtistId> = (0..HOSTILE.len())
        .map(|n| artist_id("hostile", n))
        .collect();
    for (id, text) in ids.iter().zip(HOSTILE) {
        let mut stored = artist(id, text);
        stored.genres = vec![text.to_owned(), "k-pop".into()];
        stored.image_url = Some(format!("https://i.scdn.co/image/{text}"));
        store.upsert_artist(&stored).await.unwrap();
        let alias = key(&format!("alias {text}"));
        store.put_alias(&alias, id).await.unwrap();

        assert_eq!(
            store.find_artist(&key(text)).await.unwrap(),
            Some(stored.clone()),
            "{text:?} round-trips"
        );
        assert_eq!(
            store.find_artist(&alias).await.unwrap().map(|a| a.id),
            Some(id.clone()),
            "{text:?} as an alias"
        );
        assert!(store.claim(&key(text), at(0), window).await.unwrap());
        store.asked(&key(text), at(1)).await.unwrap();
        store.finish(&key(text), RequestStatus::Done).await.unwrap();
        assert_eq!(
            store.status(&key(text)).await.unwrap(),
            Some(RequestStatus::Done),
            "{text:?}"
        );
    }
    assert_eq!(
        store.find_artist(&key("' OR '1'='1' --")).await.unwrap(),
        None,
        "a quote in a key matches nothing else"
    );
    let mut found = store.artists(&ids).await.unwrap();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        found.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        HOSTILE.to_vec()
    );
    let known = store.known_names().await.unwrap();
    for text in HOSTILE {
        assert!(
            known
                .iter()
                .any(|k| k.display == text && k.key == key(text).as_str()),
            "{text:?} is a known name"
        );
    }
    let asked = store.asked_since(at(0)).await.unwrap();
    for text in HOSTILE {
        assert!(asked.contains(&key(text)), "{text:?} was asked");
    }

    // A snapshot label is a date: any other text is refused before anything is replaced.
    let row =
        |n: usize, snapshot: &str| related(&ids[n], 1, &ids[(n + 1) % ids.len()], 0.5, snapshot);
    let dated: Vec<RelatedArtist> = (0..ids.len()).map(|n| row(n, "2026-12-03")).collect();
    store
        .replace_related(&RelatedSnapshot::from_rows(&dated).unwrap())
        .await
        .unwrap();
    for text in HOSTILE {
        let rows: Vec<RelatedArtist> = (0..ids.len()).map(|n| row(n, text)).collect();
        assert!(
            matches!(
                store
                    .replace_related(&RelatedSnapshot::from_rows(&rows).unwrap())
                    .await,
                Err(BackendError::Rejected { .. })
            ),
            "{text:?} as a snapshot"
        );
    }
    for row in &dated {
        let got = store.related(&row.artist_id, 1).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].1.name,
            HOSTILE[ids.iter().position(|i| *i == row.related_id).unwrap()]
        );
    }
    let exported = store.export_related().await.unwrap();
    assert_eq!(exported.len(), HOSTILE.len(), "every table is still there");
    assert_eq!(
        store.related_artist_count().await.unwrap(),
        HOSTILE.len() as u64
    );
}

/// Track, album and release names fed [`HOSTILE`] round-trip through the top-tracks cache.
async fn hostile_tracks_conformance(cache: &impl TopTracksCache) {
    let owner = artist_id("hostile", 99);
    let tracks: Vec<Track> = HOSTILE
        .iter()
        .zip(1..)
        .take(encore_domain::TOP_TRACKS_PER_ARTIST as usize)
        .map(|(text, rank)| track(&owner, rank, text))
        .collect();
    cache.put_top_tracks(&owner, &tracks, at(0)).await.unwrap();
    let cached = cache
        .top_tracks(std::slice::from_ref(&owner))
        .await
        .unwrap();
    assert_eq!(cached.get(&owner), Some(&tracks));
    let mut single = release("0000000000000000000001", "2024-05-01", AlbumType::Single);
    single.name = HOSTILE[0].to_owned();
    cache
        .put_latest_releases(&owner, std::slice::from_ref(&single), at(0))
        .await
        .unwrap();
    assert_eq!(cache.latest_releases(&owner).await.unwrap(), vec![single]);
}

// ---------------------------------------------------------------------------------------
// The test stack: a fresh MariaDB database and a fresh DynamoDB table per test
// ---------------------------------------------------------------------------------------

/// The DynamoDB client for the moto server, and a fresh table name.
async fn dynamo_table() -> (aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&aws_config().await);
    let table = format!("top_tracks_{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("the moto server did not create table {table}: {e}"));
    (client, table)
}

/// The catch-up schedule's inputs: the latest artist write follows every upsert, the
/// datamart's read time is recorded and only moves forward.
async fn watermark_conformance(store: &(impl ArtistStore + DatamartWatermark)) {
    assert_eq!(store.last_ingested_at().await.unwrap(), None);
    assert_eq!(store.datamart_read_at().await.unwrap(), None);

    let before = Utc::now() - chrono::Duration::seconds(1);
    store
        .upsert_artist(&artist(&id("mark", 1), "Mark One"))
        .await
        .unwrap();
    let first = store.last_ingested_at().await.unwrap().unwrap();
    assert!(first >= before, "{first} is before the upsert ({before})");
    assert!(
        first <= Utc::now() + chrono::Duration::seconds(1),
        "{first}"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    store
        .upsert_artist(&artist(&id("mark", 2), "Mark Two"))
        .await
        .unwrap();
    let second = store.last_ingested_at().await.unwrap().unwrap();
    assert!(second > first, "{second} is not after {first}");

    let read_at =
        Utc.with_ymd_and_hms(2026, 11, 25, 18, 0, 0).unwrap() + chrono::Duration::milliseconds(250);
    store.record_datamart_read_at(read_at).await.unwrap();
    assert_eq!(store.datamart_read_at().await.unwrap(), Some(read_at));
    let later = read_at + chrono::Duration::minutes(15);
    store.record_datamart_read_at(later).await.unwrap();
    assert_eq!(store.datamart_read_at().await.unwrap(), Some(later));
    store.record_datamart_read_at(read_at).await.unwrap();
    assert_eq!(
        store.datamart_read_at().await.unwrap(),
        Some(later),
        "an older read does not move the watermark back"
    );
}

fn temp_sqlite_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "encore-store-{}.sqlite",
        uuid::Uuid::new_v4().simple()
    ))
}

fn remove_sqlite_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        // The WAL files may already be gone once the last connection closed.
        let _ = std::fs::remove_file(file);
    }
}

// ---------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_artist_store() {
    artist_store_conformance(&SqliteStore::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_related_store() {
    related_store_conformance(&SqliteStore::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_datamart_watermark() {
    watermark_conformance(&SqliteStore::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_request_log() {
    request_log_conformance(&SqliteStore::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_top_tracks() {
    top_tracks_conformance(&SqliteStore::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_a_malformed_stored_id_is_corrupt() {
    let store = SqliteStore::in_memory().await.unwrap();
    store
        .upsert_artist(&artist(&id("bad", 1), "Bad Id"))
        .await
        .unwrap();
    sqlx::query("UPDATE artists SET id = 'not/an id'")
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.find_artist(&key("bad id")).await.unwrap_err();
    assert!(matches!(err, BackendError::Corrupt { .. }), "{err}");
}

#[tokio::test]
async fn sqlite_migrations_apply_twice_and_create_the_tables() {
    let path = temp_sqlite_path();
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.exists(), "open() creates the file");
    migrate::sqlite(store.pool()).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    names.sort();
    let mut expected: Vec<String> = tables::ALL
        .iter()
        .chain(&tables::SQLITE_ONLY)
        .map(|t| t.to_string())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    store.pool().close().await;
    // Reopening an existing file applies nothing new and keeps the data.
    let reopened = SqliteStore::open(&path).await.unwrap();
    reopened
        .upsert_artist(&artist(&id("again", 1), "Again"))
        .await
        .unwrap();
    reopened.pool().close().await;
    remove_sqlite_files(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replace_related_is_atomic() {
    let path = temp_sqlite_path();
    let writer = SqliteStore::open(&path).await.unwrap();
    let reader = SqliteStore::open(&path).await.unwrap();
    replace_is_atomic(writer, reader).await;
    remove_sqlite_files(&path);
}

// ---------------------------------------------------------------------------------------
// MySQL (MariaDB)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn mysql_artist_store() {
    let db = TestDatabase::create("store").await;
    artist_store_conformance(&db.store().await).await;
    db.drop_database().await;
}

#[tokio::test]
async fn mysql_related_store() {
    let db = TestDatabase::create("store").await;
    related_store_conformance(&db.store().await).await;
    let leftovers: Vec<String> = sqlx::query_scalar("SHOW TABLES LIKE 'related_artists\\_%'")
        .fetch_all(db.store().await.pool())
        .await
        .unwrap();
    assert!(
        leftovers.is_empty(),
        "no staging or old table is left behind: {leftovers:?}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn mysql_datamart_watermark() {
    let db = TestDatabase::create("store").await;
    watermark_conformance(&db.store().await).await;
    db.drop_database().await;
}

#[tokio::test]
async fn mysql_request_log() {
    let db = TestDatabase::create("store").await;
    request_log_conformance(&db.store().await).await;
    db.drop_database().await;
}

#[tokio::test]
async fn mysql_migrations_apply_twice_and_create_the_tables() {
    let db = TestDatabase::create("store").await;
    let store = db.store().await;
    migrate::mysql(store.pool()).await.unwrap();
    MySqlStore::connect_with(db.options()).await.unwrap();
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    names.sort();
    let mut expected: Vec<String> = tables::ALL.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
    store.pool().close().await;
    db.drop_database().await;
}

/// A fresh database migrated by this code and then one (additive) migration further, as
/// a newer deploy would leave it, and a store connected to it the way the functions connect.
async fn newer_schema() -> (TestDatabase, MySqlStore) {
    let db = TestDatabase::create("store").await;
    let migrated = db.store().await;
    // What a later migration might do: a column and a table this code never names.
    sqlx::raw_sql(&format!(
        "ALTER TABLE {} ADD COLUMN future_score DOUBLE NULL; \
         CREATE TABLE future_things (id INT PRIMARY KEY); \
         INSERT INTO {} (version, description, success, checksum, execution_time) \
         VALUES ({FUTURE_MIGRATION}, 'from a newer deploy', TRUE, X'00', 1)",
        tables::ARTISTS,
        migrate::MIGRATIONS_TABLE
    ))
    .execute(migrated.pool())
    .await
    .unwrap();
    migrated.pool().close().await;
    let store = MySqlStore::connect_with(db.options()).await.unwrap();
    (db, store)
}

const FUTURE_MIGRATION: i64 = 99_990_101_000_000;

/// A rolling update or a rollback runs code older than the schema: a store connected to a
/// database one migration ahead of it passes every relational conformance suite, and this
/// code's migrations apply again without touching the newer one.
#[tokio::test]
async fn mysql_store_works_on_a_newer_schema() {
    let (db, store) = newer_schema().await;
    artist_store_conformance(&store).await;
    let level = migrate::require_mysql(store.pool()).await.unwrap();
    assert_eq!(level.newer, [FUTURE_MIGRATION]);
    migrate::mysql(store.pool()).await.unwrap();
    store.pool().close().await;
    db.drop_database().await;

    let (db, store) = newer_schema().await;
    related_store_conformance(&store).await;
    store.pool().close().await;
    db.drop_database().await;

    let (db, store) = newer_schema().await;
    request_log_conformance(&store).await;
    store.pool().close().await;
    db.drop_database().await;

    let (db, store) = newer_schema().await;
    watermark_conformance(&store).await;
    store.pool().close().await;
    db.drop_database().await;
}

/// The functions never migrate: a database without the schema, or with an older one, is
/// refused with what to do, and left as it was.
#[tokio::test]
async fn mysql_connect_refuses_a_missing_or_older_schema() {
    let db = TestDatabase::create("store").await;
    let err = MySqlStore::connect_with(db.options()).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Rejected { reason, .. } if reason.contains("migrate function")),
        "{err}"
    );
    let migrated = db.store().await;
    let newest: i64 = sqlx::query_scalar(&format!(
        "SELECT MAX(version) FROM {}",
        migrate::MIGRATIONS_TABLE
    ))
    .fetch_one(migrated.pool())
    .await
    .unwrap();
    sqlx::query(&format!(
        "DELETE FROM {} WHERE version = ?",
        migrate::MIGRATIONS_TABLE
    ))
    .bind(newest)
    .execute(migrated.pool())
    .await
    .unwrap();
    let err = MySqlStore::connect_with(db.options()).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Rejected { reason, .. } if reason.contains(&format!("[{newest}]"))),
        "{err}"
    );
    let still_missing: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM {} WHERE version = ?",
        migrate::MIGRATIONS_TABLE
    ))
    .bind(newest)
    .fetch_one(migrated.pool())
    .await
    .unwrap();
    assert_eq!(still_missing, 0, "connect must not migrate");
    migrated.pool().close().await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_replace_related_is_atomic() {
    let db = TestDatabase::create("store").await;
    let writer = db.store().await;
    let reader = MySqlStore::from_pool(
        MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(db.options())
            .await
            .unwrap(),
    );
    replace_is_atomic(writer, reader).await;
    db.drop_database().await;
}

#[tokio::test]
async fn mysql_unreachable_server_is_unavailable_quickly() {
    // A port nothing listens on: bind one, note it, and close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = MySqlStore::connect(&format!("mysql://root@127.0.0.1:{port}/encore"))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unavailable { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up after {:?}",
        started.elapsed()
    );
    let err = MySqlStore::connect("mysql://root@127.0.0.1:not-a-port/encore")
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Rejected { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------
// DynamoDB (moto)
// ---------------------------------------------------------------------------------------

/// Deletes a test's DynamoDB table.
async fn drop_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    client
        .delete_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn dynamodb_top_tracks() {
    let (client, table) = dynamo_table().await;
    top_tracks_conformance(&DynamoTopTracks::new(client.clone(), &table)).await;
    drop_table(&client, &table).await;
}

#[tokio::test]
async fn dynamodb_missing_table_is_rejected() {
    let (client, table) = dynamo_table().await;
    drop_table(&client, &table).await;
    let cache = DynamoTopTracks::new(client, table);
    let err = cache.top_tracks(&[artist_id("bts", 1)]).await.unwrap_err();
    assert!(matches!(err, BackendError::Rejected { .. }), "{err}");
}

#[tokio::test]
async fn sqlite_hostile_text_is_only_data() {
    let store = SqliteStore::in_memory().await.unwrap();
    hostile_text_conformance(&store).await;
    hostile_tracks_conformance(&store).await;
}

#[tokio::test]
async fn mysql_hostile_text_is_only_data() {
    let db = TestDatabase::create("store").await;
    hostile_text_conformance(&db.store().await).await;
    db.drop_database().await;
}

#[tokio::test]
async fn dynamodb_hostile_text_is_only_data() {
    let (client, table) = dynamo_table().await;
    hostile_tracks_conformance(&DynamoTopTracks::new(client.clone(), &table)).await;
    drop_table(&client, &table).await;
}
