//! The real client against the real stand-in over HTTP on 127.0.0.1: resolution, token
//! sharing, retries, Development Mode fallbacks, batching and paging.

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use encore_domain::Artist;
use encore_spotify::{
    AlbumType, ClientSecret, MatchReason, RefusedEndpoint, RetryPolicy, SpotifyClient,
    SpotifyConfig, SpotifyError,
};
use encore_standin::{artist_id_for, Catalog, Endpoint, Faults, RunningStandIn, StandIn};
use encore_test_support::{catalog, spotify_config};

const HEADER: &str = "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,\
track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,danceability,energy,key,\
loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms";

/// A 22-character base62 id made from a short tag.
fn id(tag: &str) -> String {
    format!("{tag:0>22}")
}

/// Writes a catalog of (track tag, artist, popularity, album tag, release date) rows and
/// loads it.
fn tiny(rows: &[(String, &str, u32, String, &str)]) -> Arc<Catalog> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "encore-spotify-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("songs.csv");
    let mut text = format!("{HEADER}\n");
    for (track, artist, popularity, album, date) in rows {
        text.push_str(&format!(
            "{},Song {track},\"{artist}\",{popularity},{},Album {album},{date},p,p,g,s,0.5,0.6,5,-6.5,1,0.05,0.1,0.0,0.1,0.4,120.0,200000\n",
            id(track),
            id(album)
        ));
    }
    std::fs::write(&path, text).expect("write tiny catalog");
    let catalog = Catalog::load(&path).expect("tiny catalog loads");
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(catalog)
}

/// `n` one-track albums by `artist`, popularity falling with the index.
fn rows(
    artist: &'static str,
    prefix: &str,
    n: u32,
    date: impl Fn(u32) -> &'static str,
) -> Vec<(String, &'static str, u32, String, &'static str)> {
    (1..=n)
        .map(|i| {
            (
                format!("{prefix}{i}"),
                artist,
                100 - i.min(99),
                format!("{prefix}a{i}"),
                date(i),
            )
        })
        .collect()
}

async fn serve(catalog: Arc<Catalog>, faults: Faults) -> RunningStandIn {
    StandIn::new(catalog)
        .with_faults(faults)
        .serve("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in starts")
}

/// A client for the stand-in with short backoffs so tests stay quick.
fn client(server: &RunningStandIn) -> SpotifyClient {
    let mut config = spotify_config(server);
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
    };
    SpotifyClient::new(config).expect("client builds")
}

fn known(id: &str, name: &str) -> Artist {
    Artist {
        id: id.parse().unwrap(),
        name: name.into(),
        popularity: None,
        followers: None,
        genres: Vec::new(),
        image_url: None,
        spotify_url: None,
    }
}

#[tokio::test]
async fn resolves_bts_by_any_spelling_and_fetches_its_tracks() {
    let server = serve(catalog(), Faults::default()).await;
    let spotify = client(&server);
    let bts = artist_id_for("BTS");
    for (query, reason) in [
        ("BTS", MatchReason::ExactName),
        ("bts", MatchReason::ExactName),
        ("ＢＴＳ", MatchReason::ExactName),
        (" 방탄소년단 ", MatchReason::OtherScript),
    ] {
        let resolved = spotify.resolve_artist(query).await.expect("resolves");
        assert_eq!(
            (resolved.artist.id.as_str(), resolved.artist.name.as_str()),
            (bts.as_str(), "BTS"),
            "{query}"
        );
        assert_eq!(resolved.reason, reason, "{query}");
    }
    for nonsense in ["xqzvvqx qqzz", "   "] {
        let error = spotify
            .resolve_artist(nonsense)
            .await
            .expect_err("nothing matches");
        assert!(error.is_not_found(), "{nonsense:?}: {error}");
    }

    let artist = spotify.artist(&bts).await.expect("artist");
    assert!(artist.popularity.is_some() && artist.followers.is_some());
    let before = spotify.calls();
    let answer = spotify
        .top_tracks_with_features(&artist)
        .await
        .expect("tracks");
    assert_eq!(
        spotify.calls() - before,
        2,
        "one top-tracks call and one audio-features call"
    );
    assert_eq!(answer.tracks.len(), 10);
    assert_eq!(
        answer.tracks.iter().map(|t| t.rank).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert!(answer.tracks.iter().all(|t| t.artist_id == bts));
    assert_eq!(answer.features.len(), 10);
    assert!(answer.degraded.is_empty());
    assert_eq!(spotify.token_calls(), 1, "one token for every call");
}

#[tokio::test]
async fn exact_name_beats_a_more_popular_near_match() {
    let mut table = rows("Nova Twins", "nt", 3, |_| "2020");
    table.extend(rows("Nova", "nv", 1, |_| "2020"));
    table[3].2 = 20;
    let server = serve(tiny(&table), Faults::default()).await;
    let spotify = client(&server);
    let resolved = spotify.resolve_artist("nova").await.expect("resolves");
    assert_eq!(
        (resolved.artist.name.as_str(), resolved.reason),
        ("Nova", MatchReason::ExactName)
    );
    assert!(
        resolved.artist.popularity
            < spotify
                .artist(&artist_id_for("Nova Twins"))
                .await
                .expect("artist")
                .popularity
    );
    let resolved = spotify
        .resolve_artist("Nova Twins")
        .await
        .expect("resolves");
    assert_eq!(resolved.artist.name, "Nova Twins");
}

#[tokio::test]
async fn one_token_refresh_under_concurrent_calls() {
    let server = serve(tiny(&rows("Band", "b", 2, |_| "2020")), Faults::default()).await;
    let spotify = client(&server);
    let band = artist_id_for("Band");
    for _ in 0..3 {
        spotify.artist(&band).await.expect("artist");
    }
    assert_eq!(server.calls(Endpoint::Token), 1, "the token is cached");

    server.expire_tokens();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let spotify = spotify.clone();
        let band = band.clone();
        calls.spawn(async move { spotify.artist(&band).await });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("task")
            .expect("every call succeeds after the refresh");
    }
    assert_eq!(
        server.calls(Endpoint::Token),
        2,
        "one refresh, not a stampede"
    );
    assert_eq!(spotify.token_calls(), 2);

    let wrong = SpotifyConfig::new("standin-client", ClientSecret::new("wrong"))
        .with_base_urls(server.base_url(), server.api_base());
    let error = SpotifyClient::new(wrong)
        .expect("client")
        .artist(&band)
        .await
        .expect_err("rejected");
    assert!(
        matches!(error, SpotifyError::Unauthorized { .. }),
        "{error}"
    );
    assert!(!format!(
        "{:?}",
        SpotifyConfig::new("id", ClientSecret::new("s3cr3t"))
    )
    .contains("s3cr3t"));
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let server = serve(tiny(&rows("Band", "b", 2, |_| "2020")), Faults::default()).await;
    let spotify = client(&server);
    let band = artist_id_for("Band");
    spotify.artist(&band).await.expect("warm up");

    server.rate_limit_burst(2, 1);
    let started = Instant::now();
    spotify
        .artist(&band)
        .await
        .expect("succeeds after the burst");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited Retry-After twice: {:?}",
        started.elapsed()
    );
    assert_eq!(server.calls(Endpoint::Artist), 4);

    server.quota_exceeded_burst(1, 1);
    let error = spotify.artist(&band).await.expect_err("quota");
    assert!(
        matches!(error, SpotifyError::QuotaExceeded { .. }),
        "{error}"
    );
    assert_eq!(
        server.calls(Endpoint::Artist),
        5,
        "an exhausted quota is not retried"
    );

    server.rate_limit_burst(1, 3600);
    let error = spotify.artist(&band).await.expect_err("too long to wait");
    assert!(
        matches!(error, SpotifyError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(3600)),
        "{error}"
    );
}

#[tokio::test]
async fn a_retry_past_the_deadline_fails_instead_of_sleeping() {
    let server = serve(tiny(&rows("Band", "b", 2, |_| "2020")), Faults::default()).await;
    let spotify = client(&server);
    let band = artist_id_for("Band");
    spotify.artist(&band).await.expect("warm up");

    // A 3 s Retry-After (the policy would wait) with 1 s left: fails at once.
    server.rate_limit_burst(1, 3);
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(1);
    let error = encore_spotify::deadline::within(deadline, spotify.artist(&band))
        .await
        .expect_err("no time to wait");
    assert!(
        matches!(&error, SpotifyError::Deadline { wait, .. } if *wait == Duration::from_secs(3)),
        "{error}"
    );
    assert!(error.is_transient(), "a later delivery may succeed");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "slept: {:?}",
        started.elapsed()
    );
    assert_eq!(spotify.rate_limited(), 1);

    // A slow answer is cut at the deadline rather than at the 10 s request timeout.
    server.set_latency(Duration::from_secs(5));
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_millis(600);
    let error = encore_spotify::deadline::within(deadline, spotify.artist(&band))
        .await
        .expect_err("too slow");
    assert!(error.is_transient(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited past the deadline: {:?}",
        started.elapsed()
    );
    server.set_latency(Duration::ZERO);

    // With time to spare the same 429 is waited out.
    server.rate_limit_burst(1, 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    encore_spotify::deadline::within(deadline, spotify.artist(&band))
        .await
        .expect("waited Retry-After within the deadline");
}

#[tokio::test]
async fn server_errors_are_retried_without_duplicates() {
    let catalog = tiny(&rows("Band", "b", 12, |_| "2020"));
    let band = known(&artist_id_for("Band"), "Band");
    let clean = serve(Arc::clone(&catalog), Faults::default()).await;
    let expected = client(&clean)
        .top_tracks_with_features(&band)
        .await
        .expect("clean run");

    let flaky = serve(
        catalog,
        Faults {
            server_error_every: 2,
            ..Faults::default()
        },
    )
    .await;
    let spotify = client(&flaky);
    let answer = spotify
        .top_tracks_with_features(&band)
        .await
        .expect("succeeds despite 5xx");
    assert_eq!(
        answer, expected,
        "same tracks and features, nothing duplicated"
    );
    let mut ids: Vec<&str> = answer.tracks.iter().map(|t| t.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert_eq!(
        flaky.calls(Endpoint::TopTracks) + flaky.calls(Endpoint::AudioFeatures),
        3,
        "one call failed and was retried"
    );

    flaky.set_server_error_every(1);
    let error = spotify
        .artist(band.id.as_str())
        .await
        .expect_err("every attempt fails");
    assert!(
        matches!(error, SpotifyError::Http { status: 500, .. }),
        "{error}"
    );
    assert_eq!(flaky.calls(Endpoint::Artist), 4, "bounded attempts");
}

/// Captured log output.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).into_owned()
    }
}

#[tokio::test]
async fn development_mode_falls_back_and_logs_once() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut table = rows("Band", "b", 12, |_| "2020");
    table.extend(rows("Band Two", "x", 3, |_| "2020"));
    table.extend(rows("Solo", "s", 2, |_| "2020"));
    let server = serve(
        tiny(&table),
        Faults {
            dev_mode: true,
            ..Faults::default()
        },
    )
    .await;
    let spotify = client(&server);

    let band = spotify
        .resolve_artist("band")
        .await
        .expect("resolves")
        .artist;
    assert_eq!(band.popularity, None, "Development Mode strips popularity");
    let answer = spotify
        .top_tracks_with_features(&band)
        .await
        .expect("degrades, does not fail");
    assert_eq!(
        answer.degraded,
        [RefusedEndpoint::TopTracks, RefusedEndpoint::AudioFeatures]
    );
    assert!(answer.features.is_empty(), "features recorded as missing");
    assert_eq!(answer.tracks.len(), 10);
    assert!(answer.tracks.iter().all(|t| t.artist_id == band.id));
    assert!(
        answer.tracks.iter().all(|t| !t.name.starts_with("Song x")),
        "the namesake's tracks are filtered out"
    );
    assert_eq!(
        answer.tracks.iter().map(|t| t.rank).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );

    for name in ["Solo", "Band Two"] {
        let artist = spotify.resolve_artist(name).await.expect("resolves").artist;
        let answer = spotify
            .top_tracks_with_features(&artist)
            .await
            .expect("degrades");
        assert!(!answer.tracks.is_empty() && answer.features.is_empty());
        assert_eq!(answer.degraded.len(), 2);
    }
    assert_eq!(
        server.calls(Endpoint::TopTracks),
        1,
        "the refused endpoint is not asked again"
    );
    assert_eq!(server.calls(Endpoint::AudioFeatures), 1);
    let text = logs.text();
    assert_eq!(
        text.matches("Development Mode").count(),
        2,
        "logged once per endpoint:\n{text}"
    );
    assert!(text.contains("top-tracks") && text.contains("audio-features"));
}

#[tokio::test]
async fn audio_features_keep_nulls_and_are_chunked() {
    let server = serve(tiny(&rows("Many", "m", 120, |_| "2020")), Faults::default()).await;
    let spotify = client(&server);
    let mut ids: Vec<String> = (1..=120).map(|i| id(&format!("m{i}"))).collect();
    ids.insert(5, id("unknown"));
    let slots = spotify.audio_features(&ids).await.expect("features");
    assert_eq!(slots.len(), 121);
    assert!(slots[5].is_none(), "an unknown id keeps its empty slot");
    for (slot, wanted) in slots.iter().zip(&ids) {
        if let Some(features) = slot {
            assert_eq!(&features.track_id, wanted);
        }
    }
    assert_eq!(slots.iter().flatten().count(), 120);
    assert_eq!(server.calls(Endpoint::AudioFeatures), 2, "100 ids, then 21");
}

#[tokio::test]
async fn artist_albums_follow_pages_and_pick_the_latest() {
    let dates = [
        "2018",
        "2019-05",
        "2019-05-03",
        "2019-04-30",
        "2017-01-01",
        "2016",
        "2015-06",
        "2015-06-01",
        "2014",
        "2013",
        "2012-12-12",
        "2011",
        "2010",
    ];
    let mut table: Vec<(String, &str, u32, String, &str)> = dates
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("t{i}"), "Band", 50, format!("a{i}"), *d))
        .collect();
    table.push(("two".into(), "Band", 40, "a0".into(), "2018"));
    table.push(("g1".into(), "Other", 60, "theirs".into(), "2021"));
    table.push(("g2".into(), "Band", 10, "theirs".into(), "2021"));
    table.push(("g3".into(), "Other", 55, "theirs".into(), "2021"));
    let server = serve(
        tiny(&table),
        Faults {
            dev_mode: true,
            ..Faults::default()
        },
    )
    .await;
    let spotify = client(&server);
    let band = artist_id_for("Band");

    let releases = spotify.artist_albums(&band).await.expect("albums");
    assert_eq!(
        releases.len(),
        13,
        "album,single only: the appearance is left out"
    );
    assert_eq!(
        server.calls(Endpoint::ArtistAlbums),
        2,
        "two pages of at most 10"
    );
    assert!(releases.iter().all(|r| r.primary_artist));
    assert_eq!(
        releases
            .iter()
            .filter(|r| r.album_type == AlbumType::Album)
            .count(),
        1
    );

    let latest = spotify.latest_releases(&band, 3).await.expect("latest");
    let shown: Vec<String> = latest.iter().map(|r| r.release_date.to_string()).collect();
    assert_eq!(shown, ["2019-05-03", "2019-05", "2019-04-30"]);
    assert_eq!(
        latest[0].spotify_url.as_deref(),
        Some(format!("https://open.spotify.com/album/{}", id("a2")).as_str())
    );
}
