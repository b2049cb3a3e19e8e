//! The feature sources against the real stand-in over HTTP: ReccoBeats' quirks, the
//! ReccoBeats adapter, the chain (Spotify first, ReccoBeats for the rest), Development
//! Mode and the outage paths.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use encore_domain::{Artist, AudioFeatures, FeatureSource};
use encore_spotify::{
    FeatureSettings, FeaturesFallback, ReccoBeatsClient, ReccoBeatsConfig, RefusedEndpoint,
    RetryPolicy, SpotifyClient, SpotifyMode, RECCOBEATS_BATCH,
};
use encore_standin::{artist_id_for, Catalog, Endpoint, Faults, RunningStandIn, StandIn};
use encore_test_support::spotify_config;
use serde_json::Value;

const HEADER: &str = "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,\
track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,danceability,energy,key,\
loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms";

/// A 22-character base62 id made from a short tag.
fn id(tag: &str) -> String {
    format!("{tag:0>22}")
}

/// A catalog of `(track tag, artist)` rows; each track's features differ (its index).
fn tiny(rows: &[(String, &str)]) -> Arc<Catalog> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "encore-features-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("songs.csv");
    let mut text = format!("{HEADER}\n");
    for (i, (track, artist)) in rows.iter().enumerate() {
        let x = (i % 97) as f64 / 100.0;
        text.push_str(&format!(
            "{},Song {track},\"{artist}\",{},{},Album {track},2020-01-01,p,p,g,s,{x},0.6,{},-6.5,1,0.05,0.1,0.0,0.1,0.4,{},200000\n",
            id(track),
            90 - (i % 80),
            id(&format!("a{track}")),
            i % 12,
            100.0 + i as f64,
        ));
    }
    std::fs::write(&path, text).expect("write tiny catalog");
    let catalog = Catalog::load(&path).expect("tiny catalog loads");
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(catalog)
}

/// `n` tracks by `artist`, tagged `{prefix}{i}`.
fn rows(artist: &'static str, prefix: &str, n: u32) -> Vec<(String, &'static str)> {
    (1..=n).map(|i| (format!("{prefix}{i}"), artist)).collect()
}

async fn serve(catalog: Arc<Catalog>, faults: Faults) -> RunningStandIn {
    StandIn::new(catalog)
        .with_faults(faults)
        .serve("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in starts")
}

/// The stand-in playing a Development Mode app's Spotify.
async fn serve_development(catalog: Arc<Catalog>) -> RunningStandIn {
    serve(
        catalog,
        Faults {
            dev_mode: true,
            ..Faults::default()
        },
    )
    .await
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
    }
}

fn reccobeats_config(base: String) -> ReccoBeatsConfig {
    ReccoBeatsConfig {
        retry: quick(),
        ..ReccoBeatsConfig::new(base)
    }
}

/// A client for `spotify`, with features falling back to `reccobeats` when given.
fn client(
    spotify: &RunningStandIn,
    reccobeats: Option<&RunningStandIn>,
    mode: SpotifyMode,
) -> SpotifyClient {
    let settings = FeatureSettings {
        mode,
        fallback: if reccobeats.is_some() {
            FeaturesFallback::Reccobeats
        } else {
            FeaturesFallback::None
        },
        reccobeats_base: reccobeats.map(RunningStandIn::reccobeats_base),
    };
    let mut config = spotify_config(spotify).with_features(&settings);
    config.retry = quick();
    if let Some(fallback) = config.features_fallback.as_mut() {
        fallback.retry = quick();
    }
    SpotifyClient::new(config).expect("client builds")
}

fn artist(name: &str) -> Artist {
    Artist {
        id: artist_id_for(name).parse().unwrap(),
        name: name.into(),
        popularity: None,
        followers: None,
        genres: Vec::new(),
        image_url: None,
        spotify_url: None,
    }
}

async fn get_json(url: &str) -> (u16, Value) {
    let answer = reqwest::get(url).await.expect("request");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The features without their source, for comparing the two services.
fn measured(features: &[AudioFeatures]) -> Vec<(String, [u64; 9], i32, i32)> {
    features
        .iter()
        .map(|f| {
            (
                f.track_id.to_string(),
                f.similarity_vector().map(f64::to_bits),
                f.key,
                f.mode,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_standin_plays_reccobeats_quirks() {
    let server = serve(tiny(&rows("Band", "b", 45)), Faults::default()).await;
    let base = server.reccobeats_base();
    let asked: Vec<String> = (1..=12).map(|i| id(&format!("b{i}"))).collect();
    let unknown = id("nobody");
    let mut list = asked.clone();
    list.insert(3, unknown.clone());
    let (status, body) =
        get_json(&format!("{base}/v1/audio-features?ids={}", list.join(","))).await;
    assert_eq!(status, 200, "no key needed");
    let content = body["content"].as_array().expect("content list");
    assert_eq!(
        content.len(),
        12,
        "the unknown id is left out, no null slot"
    );
    let hrefs: Vec<String> = content
        .iter()
        .map(|item| item["href"].as_str().expect("href").to_owned())
        .collect();
    let from_href: Vec<String> = hrefs
        .iter()
        .map(|h| {
            h.strip_prefix("https://open.spotify.com/track/")
                .expect("a Spotify track link")
                .to_owned()
        })
        .collect();
    assert_eq!(
        from_href.iter().cloned().collect::<BTreeSet<_>>(),
        asked.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_ne!(from_href, asked, "an order of its own");
    for item in content {
        let own = item["id"].as_str().expect("id");
        assert_eq!(own.len(), 36, "a UUID: {own}");
        assert!(!asked.iter().any(|a| a == own), "id is not the Spotify id");
        for field in [
            "acousticness",
            "danceability",
            "energy",
            "instrumentalness",
            "key",
            "liveness",
            "loudness",
            "mode",
            "speechiness",
            "tempo",
            "valence",
        ] {
            assert!(item[field].is_number(), "{field}");
        }
    }

    let too_many: Vec<String> = (1..=41).map(|i| id(&format!("b{i}"))).collect();
    let (status, _) = get_json(&format!(
        "{base}/v1/audio-features?ids={}",
        too_many.join(",")
    ))
    .await;
    assert_eq!(status, 400, "at most {RECCOBEATS_BATCH} ids");

    server.reccobeats_rate_limit_burst(1, 7);
    let answer = reqwest::get(format!("{base}/v1/audio-features?ids={}", asked[0]))
        .await
        .expect("request");
    assert_eq!(answer.status().as_u16(), 429);
    assert_eq!(
        answer.headers()["retry-after"].to_str().expect("header"),
        "7"
    );
    let (status, _) = get_json(&format!("{base}/v1/audio-features?ids={}", asked[0])).await;
    assert_eq!(status, 200, "the burst is over");
    assert_eq!(server.calls(Endpoint::ReccoBeatsFeatures), 4);
    assert_eq!(server.calls(Endpoint::AudioFeatures), 0);
}

#[tokio::test]
async fn the_adapter_batches_by_40_and_matches_by_href() {
    let catalog = tiny(&rows("Band", "b", 95));
    let server = serve(catalog, Faults::default()).await;
    let mut ids: Vec<String> = (1..=95).rev().map(|i| id(&format!("b{i}"))).collect();
    ids.insert(10, id("ghost1"));
    ids.push(id("ghost2"));
    let reccobeats =
        ReccoBeatsClient::new(reccobeats_config(server.reccobeats_base())).expect("client");
    let found = reccobeats.audio_features(&ids).await.expect("features");
    assert_eq!(
        server.calls(Endpoint::ReccoBeatsFeatures),
        3,
        "97 ids in 3 calls"
    );
    assert_eq!(reccobeats.calls(), 3);
    let known: Vec<String> = ids
        .iter()
        .filter(|i| !i.contains("ghost"))
        .cloned()
        .collect();
    assert_eq!(
        found.iter().map(|f| f.track_id.clone()).collect::<Vec<_>>(),
        known,
        "in the order asked, unknown ids left out"
    );
    assert!(found.iter().all(|f| f.source == FeatureSource::Reccobeats));

    // The same data either way: Spotify's answer for the same tracks measures the same.
    let spotify = client(&server, None, SpotifyMode::Extended);
    let from_spotify: Vec<AudioFeatures> = spotify
        .audio_features(&known)
        .await
        .expect("spotify features")
        .into_iter()
        .flatten()
        .collect();
    assert!(from_spotify
        .iter()
        .all(|f| f.source == FeatureSource::Spotify));
    assert_eq!(measured(&found), measured(&from_spotify));
}

#[tokio::test]
async fn the_chain_fills_what_spotify_left_out() {
    // Spotify knows the first 6 of the band's 10 tracks; ReccoBeats knows all of them.
    let all = rows("Band", "b", 10);
    let spotify_side = serve(tiny(&all[..6]), Faults::default()).await;
    let reccobeats_side = serve(tiny(&all), Faults::default()).await;
    let spotify = client(&spotify_side, Some(&reccobeats_side), SpotifyMode::Extended);
    let ids: Vec<String> = all.iter().map(|(tag, _)| id(tag)).collect();
    let chained = spotify.feature_chain().features(&ids).await.expect("chain");
    assert!(!chained.spotify_refused && chained.fallback_failed.is_none());
    let sources: Vec<(String, FeatureSource)> = chained
        .features
        .iter()
        .map(|f| (f.track_id.to_string(), f.source))
        .collect();
    let expected: Vec<(String, FeatureSource)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let source = if i < 6 {
                FeatureSource::Spotify
            } else {
                FeatureSource::Reccobeats
            };
            (id.clone(), source)
        })
        .collect();
    assert_eq!(
        sources, expected,
        "Spotify's six, ReccoBeats' four, in order"
    );
    assert_eq!(spotify_side.calls(Endpoint::AudioFeatures), 1);
    assert_eq!(
        reccobeats_side.calls(Endpoint::ReccoBeatsFeatures),
        1,
        "asked only for the four Spotify left out"
    );

    // Nothing left out: ReccoBeats is not asked.
    let before = reccobeats_side.calls(Endpoint::ReccoBeatsFeatures);
    let chained = spotify
        .feature_chain()
        .features(&ids[..6])
        .await
        .expect("chain");
    assert_eq!(chained.features.len(), 6);
    assert_eq!(reccobeats_side.calls(Endpoint::ReccoBeatsFeatures), before);
}

#[tokio::test]
async fn development_mode_takes_features_from_reccobeats_only() {
    let mut table = rows("Band", "b", 12);
    table.extend(rows("Solo", "s", 3));
    let server = serve_development(tiny(&table)).await;
    // Not told the mode: the first 403 teaches it, and Spotify is not asked again.
    let learning = client(&server, Some(&server), SpotifyMode::Extended);
    for name in ["Band", "Solo", "Band"] {
        let answer = learning
            .top_tracks_with_features(&artist(name))
            .await
            .expect("degrades, does not fail");
        assert!(!answer.tracks.is_empty());
        assert_eq!(answer.features.len(), answer.tracks.len(), "{name}");
        assert!(answer
            .features
            .iter()
            .all(|f| f.source == FeatureSource::Reccobeats));
        assert_eq!(
            answer.degraded,
            [RefusedEndpoint::TopTracks, RefusedEndpoint::AudioFeatures]
        );
    }
    assert_eq!(server.calls(Endpoint::AudioFeatures), 1, "refused once");
    assert_eq!(server.calls(Endpoint::TopTracks), 1);
    assert_eq!(server.calls(Endpoint::ReccoBeatsFeatures), 3);

    // Told the mode: the refused endpoints are never tried.
    let told = client(&server, Some(&server), SpotifyMode::Development);
    let answer = told
        .top_tracks_with_features(&artist("Band"))
        .await
        .expect("tracks");
    assert_eq!(answer.features.len(), 10);
    assert_eq!(server.calls(Endpoint::AudioFeatures), 1);
    assert_eq!(server.calls(Endpoint::TopTracks), 1);
    assert_eq!(
        told.features_fallback().map(ReccoBeatsClient::calls),
        Some(1)
    );
}

#[tokio::test]
async fn a_reccobeats_rate_limit_burst_is_waited_out() {
    let server = serve_development(tiny(&rows("Band", "b", 10))).await;
    let spotify = client(&server, Some(&server), SpotifyMode::Development);
    server.reccobeats_rate_limit_burst(2, 0);
    let answer = spotify
        .top_tracks_with_features(&artist("Band"))
        .await
        .expect("tracks");
    assert_eq!(answer.features.len(), 10);
    let fallback = spotify.features_fallback().expect("fallback");
    assert_eq!((fallback.calls(), fallback.rate_limited()), (3, 2));
}

#[tokio::test]
async fn a_reccobeats_outage_leaves_features_missing_and_never_fails() {
    let server = serve_development(tiny(&rows("Band", "b", 10))).await;
    let spotify = client(&server, Some(&server), SpotifyMode::Development);
    let band = artist("Band");

    server.set_reccobeats_outage(true);
    let answer = spotify
        .top_tracks_with_features(&band)
        .await
        .expect("a 5xx outage does not fail");
    assert_eq!((answer.tracks.len(), answer.features.len()), (10, 0));
    assert_eq!(
        server.calls(Endpoint::ReccoBeatsFeatures),
        4,
        "bounded retries"
    );
    server.set_reccobeats_outage(false);

    server.reccobeats_rate_limit_burst(100, 0);
    let ids: Vec<String> = answer.tracks.iter().map(|t| t.id.to_string()).collect();
    let chained = spotify.feature_chain().features(&ids).await.expect("chain");
    assert!(chained.features.is_empty());
    assert!(
        chained
            .fallback_failed
            .as_deref()
            .is_some_and(|reason| reason.contains("rate limited")),
        "{:?}",
        chained.fallback_failed
    );
    server.reccobeats_rate_limit_burst(0, 0);

    // The next try (the next refresh) finds them.
    let answer = spotify
        .top_tracks_with_features(&band)
        .await
        .expect("tracks");
    assert_eq!(answer.features.len(), 10);
}

#[tokio::test]
async fn a_slow_reccobeats_times_out_into_missing_features() {
    let server = serve(tiny(&rows("Band", "b", 10)), Faults::default()).await;
    let spotify_side = client(&server, None, SpotifyMode::Development);
    let tracks = spotify_side
        .top_tracks_with_features(&artist("Band"))
        .await
        .expect("tracks")
        .tracks;
    let ids: Vec<String> = tracks.iter().map(|t| t.id.to_string()).collect();
    let slow = ReccoBeatsClient::new(ReccoBeatsConfig {
        request_timeout: Duration::from_millis(100),
        retry: RetryPolicy {
            max_attempts: 2,
            ..quick()
        },
        ..ReccoBeatsConfig::new(server.reccobeats_base())
    })
    .expect("client");
    server.set_latency(Duration::from_millis(400));
    let chain = encore_spotify::FeatureChain::new(&spotify_side, Some(&slow));
    let chained = chain
        .features(&ids)
        .await
        .expect("chain never fails on the fallback");
    assert!(chained.features.is_empty() && chained.spotify_refused);
    assert!(chained.fallback_failed.is_some());
    assert_eq!(slow.calls(), 2);
}

#[tokio::test]
async fn the_real_data_set_measures_the_same_through_both_sources() {
    let catalog = encore_test_support::catalog();
    let ids: Vec<String> = (0..200)
        .map(|i| catalog.artist_at(i * 7).id.clone())
        .filter_map(|artist_id| {
            let artist = catalog.artist(&artist_id)?;
            catalog.tracks_of(artist).next().map(|t| t.id.clone())
        })
        .collect();
    let server = serve(catalog, Faults::default()).await;
    let spotify = client(&server, None, SpotifyMode::Extended);
    let reccobeats =
        ReccoBeatsClient::new(reccobeats_config(server.reccobeats_base())).expect("client");
    let a: HashMap<String, AudioFeatures> = spotify
        .audio_features(&ids)
        .await
        .expect("spotify")
        .into_iter()
        .flatten()
        .map(|f| (f.track_id.to_string(), f))
        .collect();
    let b = reccobeats.audio_features(&ids).await.expect("reccobeats");
    assert_eq!(b.len(), a.len());
    for f in &b {
        assert_eq!(
            measured(std::slice::from_ref(f)),
            measured(std::slice::from_ref(&a[f.track_id.as_str()]))
        );
    }
}

#[tokio::test]
async fn the_development_mode_track_list_is_the_artists_own() {
    // "Band" has 14 tracks; three namesakes match `artist:"Band"` too, and one of them is
    // more popular than all of Band's tracks.
    let mut table = rows("The Band Two", "n", 6);
    table.extend(rows("Band", "b", 14));
    table.extend(rows("Band Two", "x", 5));
    let catalog = tiny(&table);
    let band = catalog.artist_named("Band").expect("Band").clone();
    let own: BTreeSet<String> = catalog.tracks_of(&band).map(|t| t.id.clone()).collect();
    let extended = serve(Arc::clone(&catalog), Faults::default()).await;
    let development = serve_development(catalog).await;
    let top = client(&extended, None, SpotifyMode::Extended)
        .top_tracks_with_features(&artist("Band"))
        .await
        .expect("top tracks");
    let searched = client(&development, None, SpotifyMode::Development)
        .top_tracks_with_features(&artist("Band"))
        .await
        .expect("searched tracks");
    assert_eq!(searched.tracks.len(), 10);
    assert!(
        searched.tracks.iter().all(|t| own.contains(t.id.as_str())),
        "every chosen track is one of the artist's own"
    );
    assert!(searched.tracks.iter().all(|t| t.popularity.is_none()));
    assert_eq!(
        searched.tracks.iter().map(|t| t.rank).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        searched.tracks.iter().map(|t| &t.id).collect::<Vec<_>>(),
        top.tracks.iter().map(|t| &t.id).collect::<Vec<_>>(),
        "search relevance picks the same ten as top tracks on this catalog"
    );
}

#[tokio::test]
async fn a_short_name_finds_its_tracks_past_the_tenth_search_page() {
    // "Mike Two" (150 tracks) matches `artist:"Mike"` and outranks both of Mike's tracks:
    // they sit beyond the first 100 results, as the data set's MIKE does (result 157).
    let mut table = rows("Mike Two", "n", 150);
    table.extend(rows("Mike", "m", 2));
    let catalog = tiny(&table);
    let mike = catalog.artist_named("Mike").expect("Mike").clone();
    let own: Vec<String> = catalog.tracks_of(&mike).map(|t| t.id.clone()).collect();
    let development = serve_development(catalog).await;
    let searched = client(&development, None, SpotifyMode::Development)
        .top_tracks_with_features(&artist("Mike"))
        .await
        .expect("searched tracks");
    assert_eq!(
        searched.tracks.iter().map(|t| &t.id).collect::<Vec<_>>(),
        own.iter().collect::<Vec<_>>(),
        "both of Mike's tracks, most popular first"
    );
}
