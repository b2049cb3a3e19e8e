//! Property tests of the skill endpoint and the renderer over hostile input: arbitrary
//! bytes, arbitrary JSON around a skill request, arbitrary names and track titles. Nothing
//! panics, and every answer is either a 4xx with a reason or a 200 whose body is a Kakao
//! response within every limit (`encore_kakao::limits::validate`).

use std::sync::Arc;

use axum::http::HeaderMap;
use encore_chat::{handle_http, Chat, ChatSettings, RawBody, SecretGuard, SkillEndpoint, Stores};
use encore_domain::{Artist, Track};
use encore_kakao::limits::validate;
use encore_kakao::render::{self, ArtistCard};
use encore_kakao::SkillResponse;
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_store::sqlite::SqliteStore;
use encore_store::{ArtistStore, TopTracksCache};
use proptest::prelude::*;
use serde_json::{json, Value};

type Endpoint = SkillEndpoint;

/// Names the store knows, so generated requests also reach the card renderer.
const KNOWN: [&str; 3] = ["BTS", "Red Velvet", "방탄소년단 \u{202e}x"];

fn artist(n: usize, name: &str) -> Artist {
    Artist {
        id: format!("{n:0>22}").parse().unwrap(),
        name: name.to_owned(),
        popularity: Some(70),
        followers: Some(1000),
        genres: Vec::new(),
        image_url: None,
        spotify_url: Some(format!("https://open.spotify.com/artist/{n:0>22}")),
    }
}

fn track(artist_id: &str, rank: u32, name: &str) -> Track {
    Track {
        id: format!("{artist_id}{rank:02}").parse().unwrap(),
        name: name.to_owned(),
        artist_id: artist_id.parse().unwrap(),
        rank,
        album_name: Some(name.to_owned()),
        image_url: None,
        popularity: Some(50),
        duration_ms: Some(180_000),
        spotify_url: Some(format!(
            "https://open.spotify.com/track/{artist_id}{rank:02}"
        )),
        features_source: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn endpoint() -> Endpoint {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    for (n, name) in KNOWN.iter().enumerate() {
        let known = artist(n, name);
        store.upsert_artist(&known).await.unwrap();
        let tracks: Vec<Track> = (1..=10)
            .map(|rank| track(known.id.as_str(), rank, &format!("{name} song {rank}")))
            .collect();
        store
            .put_top_tracks(&known.id, &tracks, chrono::Utc::now())
            .await
            .unwrap();
    }
    let chat = Chat::new(
        Stores::shared(store, Arc::new(EmbeddedBus::new())),
        ChatSettings::default(),
    );
    SkillEndpoint::new(chat, SecretGuard::Disabled)
}

/// Checks one reply: a 4xx with a JSON reason, or a 200 with a valid Kakao response.
fn check_reply(status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    if (400..500).contains(&status) {
        let reason: Value = serde_json::from_slice(body)
            .map_err(|e| TestCaseError::fail(format!("a {status} body is not JSON: {e}")))?;
        prop_assert!(reason["reason"].is_string(), "{reason}");
        return Ok(());
    }
    prop_assert_eq!(status, 200);
    let response: SkillResponse = serde_json::from_slice(body)
        .map_err(|e| TestCaseError::fail(format!("a 200 body is not a skill response: {e}")))?;
    prop_assert_eq!(validate(&response), Ok(()));
    Ok(())
}

/// Arbitrary JSON values, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a user might type: anything, or a known name wrapped in noise.
fn utterance() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (0..KNOWN.len(), "[ \t\u{200b}\u{202e}]{0,3}")
            .prop_map(|(i, noise)| format!("{noise}{}{noise}", KNOWN[i])),
        ".{0,2000}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_get_a_4xx_or_a_valid_answer(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let rt = runtime();
        let endpoint = rt.block_on(endpoint());
        let reply = rt.block_on(handle_http(&endpoint, &HeaderMap::new(), RawBody::Complete(&bytes)));
        check_reply(reply.status.as_u16(), &reply.body)?;
    }

    #[test]
    fn arbitrary_json_around_a_request_gets_a_4xx_or_a_valid_answer(
        utterance in utterance(),
        user in any_json(),
        params in any_json(),
        extra in any_json(),
        shape in 0..4u8,
    ) {
        let mut request = json!({
            "userRequest": {
                "utterance": utterance,
                "user": {"id": "fuzz-user", "type": "botUserKey", "properties": user},
                "params": params.clone(),
            },
            "action": {"params": params, "detailParams": {}},
            "extra": extra.clone(),
        });
        match shape {
            0 => {}
            1 => request["userRequest"]["user"] = extra,
            2 => request["userRequest"]["utterance"] = extra,
            _ => request["userRequest"] = extra,
        }
        let body = request.to_string();
        let rt = runtime();
        let endpoint = rt.block_on(endpoint());
        let reply = rt.block_on(handle_http(&endpoint, &HeaderMap::new(), RawBody::Complete(body.as_bytes())));
        check_reply(reply.status.as_u16(), &reply.body)?;
    }

    #[test]
    fn the_renderer_stays_within_kakao_limits_for_any_names(
        name in any::<String>(),
        titles in prop::collection::vec(any::<String>(), 0..14),
        similar in prop::collection::vec((any::<String>(), prop::collection::vec(".{0,300}", 0..12)), 0..8),
        query in any::<String>(),
    ) {
        let main = artist(0, &name);
        let tracks = titles.iter().enumerate()
            .map(|(i, t)| track(main.id.as_str(), i as u32 + 1, t))
            .collect();
        let card = ArtistCard::new(main, tracks);
        let similar: Vec<ArtistCard> = similar.iter().enumerate().map(|(n, (name, titles))| {
            let other = artist(n + 1, name);
            let tracks = titles.iter().enumerate()
                .map(|(i, t)| track(other.id.as_str(), i as u32 + 1, t))
                .collect();
            ArtistCard::new(other, tracks)
        }).collect();
        prop_assert_eq!(validate(&render::artist_answer(&card, &similar, render::RelatedDue::Within { minutes: 15 })), Ok(()));
        prop_assert_eq!(validate(&render::not_found(&query, &[])), Ok(()));
        let names: Vec<String> = similar.iter().map(|c| c.artist.name.clone()).collect();
        prop_assert_eq!(validate(&render::not_found(&query, &names)), Ok(()));
    }
}
