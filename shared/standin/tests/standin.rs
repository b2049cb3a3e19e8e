//! The stand-in over real HTTP: Spotify's shapes, bounds, errors and faults, on the real
//! data set and on tiny catalogs written by the tests.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use encore_standin::{
    artist_id_for, Catalog, Credentials, Endpoint, Faults, RunningStandIn, StandIn,
};
use encore_test_support::catalog;
use reqwest::StatusCode;
use serde_json::Value;

const HEADER: &str = "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,\
track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,danceability,energy,key,\
loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms";

/// A 22-character base62 id made from a short tag.
fn id(tag: &str) -> String {
    format!("{tag:0>22}")
}

/// One CSV row: (track tag, track name, artist, popularity, album tag, album name, date).
type Row<'a> = (&'a str, &'a str, &'a str, u32, &'a str, &'a str, &'a str);

/// Writes a tiny catalog whose playlist columns hold sentinel values, and loads it.
fn tiny(rows: &[Row]) -> Arc<Catalog> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "encore-standin-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("songs.csv");
    let mut text = format!("{HEADER}\n");
    for (track, name, artist, popularity, album, album_name, date) in rows {
        text.push_str(&format!(
            "{},\"{name}\",\"{artist}\",{popularity},{},\"{album_name}\",{date},SENTINEL-PLAYLIST,SENTINELPLAYLISTID,\
sentinel-genre,sentinel-subgenre,0.5,0.6,5,-6.5,1,0.05,0.1,0.0,0.1,0.4,120.0,200000\n",
            id(track),
            id(album)
        ));
    }
    std::fs::write(&path, text).expect("write tiny catalog");
    let catalog = Catalog::load(&path).expect("tiny catalog loads");
    let _ = std::fs::remove_dir_all(&dir);
    Arc::new(catalog)
}

async fn serve(catalog: Arc<Catalog>, faults: Faults) -> RunningStandIn {
    StandIn::new(catalog)
        .with_faults(faults)
        .serve("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in starts")
}

async fn token(http: &reqwest::Client, server: &RunningStandIn) -> String {
    let c = Credentials::standin_default();
    let answer: Value = http
        .post(format!("{}/api/token", server.base_url()))
        .basic_auth(c.client_id, Some(c.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token call")
        .json()
        .await
        .expect("token json");
    answer["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// GET `path_and_query` with the token; returns status, body text and headers.
async fn get(
    http: &reqwest::Client,
    server: &RunningStandIn,
    token: &str,
    path: &str,
) -> (StatusCode, String) {
    let response = http
        .get(format!("{}{path}", server.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).expect("JSON body")
}

#[tokio::test]
async fn serves_the_data_set_like_spotify() {
    let catalog = catalog();
    assert_eq!(
        catalog.track_count(),
        28_356,
        "tracks are de-duplicated by track_id"
    );
    let bts = catalog.artist_named("BTS").expect("BTS is in the data set");
    assert_eq!(bts.id, artist_id_for("BTS"));
    let server = serve(catalog.clone(), Faults::default()).await;
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;

    for q in [
        "BTS",
        "bts",
        "%EF%BC%A2%EF%BC%B4%EF%BC%B3",
        "%EB%B0%A9%ED%83%84%EC%86%8C%EB%85%84%EB%8B%A8",
    ] {
        let (status, body) = get(
            &http,
            &server,
            &token,
            &format!("/v1/search?q={q}&type=artist&limit=10"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer = json(&body);
        assert_eq!(
            answer["artists"]["items"][0]["name"], "BTS",
            "query {q}: {body}"
        );
        assert_eq!(answer["artists"]["items"][0]["type"], "artist");
        assert!(answer["artists"]["items"][0]["images"].is_array());
    }

    let (status, body) = get(&http, &server, &token, &format!("/v1/artists/{}", bts.id)).await;
    assert_eq!(status, StatusCode::OK);
    let artist = json(&body);
    assert_eq!(artist["uri"], format!("spotify:artist:{}", bts.id));
    assert_eq!(
        artist["external_urls"]["spotify"],
        format!("https://open.spotify.com/artist/{}", bts.id)
    );
    assert_eq!(artist["popularity"], bts.popularity);
    assert_eq!(
        artist["genres"],
        serde_json::json!([]),
        "artist genres are never filled from playlist labels"
    );

    let (status, body) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{}/top-tracks?market=KR", bts.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let tracks = json(&body)["tracks"].as_array().expect("tracks").clone();
    assert_eq!(
        tracks.len(),
        10,
        "BTS has more than 10 tracks; top tracks are capped at 10"
    );
    let popularity: Vec<u64> = tracks
        .iter()
        .map(|t| t["popularity"].as_u64().expect("popularity"))
        .collect();
    assert!(
        popularity.windows(2).all(|w| w[0] >= w[1]),
        "by popularity: {popularity:?}"
    );
    assert!(tracks
        .iter()
        .all(|t| t["artists"][0]["id"] == bts.id.as_str()));

    let (status, body) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{}/top-tracks", bts.id),
    )
    .await;
    assert_eq!(
        (status, json(&body)["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid market"))
    );

    let (status, _) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{}", id("nobody")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&http, &server, &token, "/v1/artists/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // No answer carries a playlist column, nor a sample of the genre labels.
    let sample = [
        "/v1/search?q=BTS&type=artist,track&limit=50".to_owned(),
        format!("/v1/artists/{}/top-tracks?market=KR", bts.id),
        format!("/v1/artists/{}/albums?limit=50", bts.id),
        format!(
            "/v1/audio-features?ids={}",
            tracks
                .iter()
                .map(|t| t["id"].as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    for path in &sample {
        let (status, body) = get(&http, &server, &token, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        for forbidden in [
            "playlist",
            "genre\":\"",
            "k-pop",
            "post-teen pop",
            "dance pop",
        ] {
            assert!(
                !body.to_lowercase().contains(forbidden),
                "{path} exposes {forbidden:?}"
            );
        }
    }
}

#[tokio::test]
async fn never_exposes_the_playlist_columns() {
    let catalog = tiny(&[
        (
            "t1",
            "First Song",
            "Sentinel Band",
            50,
            "a1",
            "First Album",
            "2019-05-01",
        ),
        (
            "t2",
            "Second Song",
            "Sentinel Band",
            40,
            "a1",
            "First Album",
            "2019-05-01",
        ),
    ]);
    let band = artist_id_for("Sentinel Band");
    let server = serve(catalog, Faults::default()).await;
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;
    let paths = [
        "/v1/search?q=sentinel&type=artist,track".to_owned(),
        format!("/v1/artists/{band}"),
        format!("/v1/artists/{band}/top-tracks?market=KR"),
        format!("/v1/artists/{band}/albums"),
        format!("/v1/audio-features?ids={},{}", id("t1"), id("t2")),
    ];
    for path in &paths {
        let (status, body) = get(&http, &server, &token, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        for sentinel in [
            "sentinel-genre",
            "sentinel-subgenre",
            "SENTINEL-PLAYLIST",
            "SENTINELPLAYLISTID",
            "playlist",
        ] {
            assert!(
                !body.contains(sentinel),
                "{path} exposes {sentinel}: {body}"
            );
        }
    }
    let (_, body) = get(
        &http,
        &server,
        &token,
        "/v1/search?q=genre:sentinel-genre&type=track",
    )
    .await;
    assert_eq!(
        json(&body)["tracks"]["total"],
        0,
        "a genre: filter never matches on the labels"
    );
}

#[tokio::test]
async fn tokens_need_credentials_and_expire() {
    let catalog = tiny(&[("t1", "Song", "Band", 50, "a1", "Album", "2020")]);
    let server = serve(
        catalog,
        Faults {
            token_ttl: Duration::from_secs(1),
            ..Faults::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/token", server.base_url());

    let wrong = http
        .post(&url)
        .basic_auth("standin-client", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("call");
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );

    let (status, body) = get(
        &http,
        &server,
        "made-up",
        &format!("/v1/artists/{}", artist_id_for("Band")),
    )
    .await;
    assert_eq!(
        (status, json(&body)["error"]["message"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Invalid access token"))
    );

    let first = token(&http, &server).await;
    let path = format!("/v1/artists/{}", artist_id_for("Band"));
    assert_eq!(get(&http, &server, &first, &path).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = get(&http, &server, &first, &path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(&body),
        serde_json::json!({"error": {"status": 401, "message": "The access token expired"}})
    );

    server.set_token_ttl(Duration::from_secs(3600));
    let fresh = token(&http, &server).await;
    assert_eq!(get(&http, &server, &fresh, &path).await.0, StatusCode::OK);
    server.expire_tokens();
    assert_eq!(
        get(&http, &server, &fresh, &path).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.calls(Endpoint::Token), 3);
}

#[tokio::test]
async fn development_mode_refuses_and_strips() {
    let catalog = tiny(&[("t1", "Song", "Band", 50, "a1", "Album", "2020-02")]);
    let band = artist_id_for("Band");
    let server = serve(
        catalog,
        Faults {
            dev_mode: true,
            ..Faults::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;

    let (status, body) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{band}/top-tracks?market=KR"),
    )
    .await;
    assert_eq!(
        (status, json(&body)["error"]["status"].as_u64()),
        (StatusCode::FORBIDDEN, Some(403))
    );
    let (status, _) = get(
        &http,
        &server,
        &token,
        &format!("/v1/audio-features?ids={}", id("t1")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = get(
        &http,
        &server,
        &token,
        "/v1/search?q=band&type=artist&limit=11",
    )
    .await;
    assert_eq!(
        (status, json(&body)["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Invalid limit"))
    );
    let (status, body) = get(
        &http,
        &server,
        &token,
        "/v1/search?q=band&type=artist,track",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let answer = json(&body);
    assert_eq!(
        answer["artists"]["limit"], 5,
        "Development Mode default limit"
    );
    let artist = &answer["artists"]["items"][0];
    assert_eq!(artist["name"], "Band");
    assert!(
        artist.get("popularity").is_none() && artist.get("followers").is_none(),
        "{artist}"
    );
    assert!(answer["tracks"]["items"][0].get("popularity").is_none());

    let (status, body) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{band}/albums?include_groups=album,single"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the albums endpoint stays in Development Mode"
    );
    let album = &json(&body)["items"][0];
    assert_eq!(
        (
            album["release_date"].as_str(),
            album["release_date_precision"].as_str()
        ),
        (Some("2020-02"), Some("month"))
    );
    assert_eq!(album["album_type"], "single");

    server.set_dev_mode(false);
    let (status, _) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{band}/top-tracks?market=KR"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(
            &http,
            &server,
            &token,
            "/v1/search?q=band&type=artist&limit=50"
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        get(
            &http,
            &server,
            &token,
            "/v1/search?q=band&type=artist&limit=51"
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn audio_features_batch_rules() {
    let catalog = tiny(&[
        ("t1", "One", "Band", 50, "a1", "Album", "2020"),
        ("t2", "Two", "Band", 40, "a1", "Album", "2020"),
    ]);
    let server = serve(catalog, Faults::default()).await;
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;

    let path = format!(
        "/v1/audio-features?ids={},{},{}",
        id("t2"),
        id("unknown"),
        id("t1")
    );
    let (status, body) = get(&http, &server, &token, &path).await;
    assert_eq!(status, StatusCode::OK);
    let slots = json(&body)["audio_features"]
        .as_array()
        .expect("slots")
        .clone();
    assert_eq!(slots.len(), 3);
    assert_eq!(slots[0]["id"], id("t2"));
    assert!(slots[1].is_null(), "unknown id keeps a null slot");
    assert_eq!(slots[2]["id"], id("t1"));
    assert_eq!(slots[2]["tempo"], 120.0);

    let (status, _) = get(&http, &server, &token, "/v1/audio-features?ids=bad-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let many: Vec<String> = (0..101).map(|n| id(&format!("x{n}"))).collect();
    let (status, body) = get(
        &http,
        &server,
        &token,
        &format!("/v1/audio-features?ids={}", many.join(",")),
    )
    .await;
    assert_eq!(
        (status, json(&body)["error"]["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Too many ids requested"))
    );
}

#[tokio::test]
async fn artist_albums_page_newest_first() {
    let rows: Vec<(String, String, String)> = (1..=13)
        .map(|n| {
            (
                format!("t{n}"),
                format!("a{n}"),
                format!("2010-{:02}-01", n.min(12)),
            )
        })
        .collect();
    let mut table: Vec<Row> = rows
        .iter()
        .map(|(t, a, d)| {
            (
                t.as_str(),
                "Song",
                "Band",
                50,
                a.as_str(),
                "Album",
                d.as_str(),
            )
        })
        .collect();
    table.push(("g1", "Guest", "Other", 60, "other", "Their Album", "2021"));
    table.push(("g2", "Feature", "Band", 10, "other", "Their Album", "2021"));
    table.push(("g3", "Third", "Other", 55, "other", "Their Album", "2021"));
    let server = serve(
        tiny(&table),
        Faults {
            dev_mode: true,
            ..Faults::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;
    let band = artist_id_for("Band");

    let mut next = Some(format!(
        "{}/v1/artists/{band}/albums?include_groups=album,single&limit=10",
        server.base_url()
    ));
    let mut dates = Vec::new();
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        let page: Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        assert_eq!(page["total"], 13);
        for album in page["items"].as_array().expect("items") {
            dates.push(album["release_date"].as_str().expect("date").to_owned());
            assert_eq!(album["album_group"], "single");
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 2);
    assert_eq!(dates.len(), 13);
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");

    let (_, body) = get(
        &http,
        &server,
        &token,
        &format!("/v1/artists/{band}/albums?include_groups=appears_on"),
    )
    .await;
    let answer = json(&body);
    assert_eq!(
        answer["total"], 1,
        "the other artist's album is an appearance: {answer}"
    );
    assert_eq!(answer["items"][0]["album_group"], "appears_on");
    assert_eq!(answer["items"][0]["artists"][0]["name"], "Other");
    assert_eq!(
        get(
            &http,
            &server,
            &token,
            &format!("/v1/artists/{band}/albums?limit=11")
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn injected_rate_limits_and_server_errors() {
    let catalog = tiny(&[("t1", "Song", "Band", 50, "a1", "Album", "2020")]);
    let server = serve(catalog, Faults::default()).await;
    let http = reqwest::Client::new();
    let token = token(&http, &server).await;
    let url = format!("{}/v1/artists/{}", server.base_url(), artist_id_for("Band"));

    server.rate_limit_burst(2, 7);
    for _ in 0..2 {
        let response = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::OK
    );

    server.quota_exceeded_burst(1, 1);
    let body: Value = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(body["error"]["reason"], "QUOTA_EXCEEDED");

    server.set_server_error_every(2);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            http.get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("GET")
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 500).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(server.calls(Endpoint::Artist), 8);

    server.set_server_error_every(0);
    server.set_latency(Duration::from_millis(150));
    let started = std::time::Instant::now();
    assert_eq!(
        http.get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
}
