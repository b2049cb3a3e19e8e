//! The chat end to end: every answer kind and a bad-input matrix, through the local axum
//! server (real HTTP on 127.0.0.1) and through the Lambda handler with the sample API
//! Gateway event, on both adapter sets: SQLite + the embedded bus, and MariaDB + DynamoDB
//! + EventBridge (the local test stack: `bash infra/local/stack.sh`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine;
use chrono::{Days, Months, NaiveDate, Utc};
use encore_chat::lambda::handle_apigw;
use encore_chat::server::{check_exposure, serve, ServeError, SKILL_PATH};
use encore_chat::{Chat, ChatSettings, SecretGuard, SkillEndpoint, SkillSecret, Stores};
use encore_domain::events::{ArtistRequested, BusEvent};
use encore_domain::release::{AlbumType, DatePrecision, Release, ReleaseDate};
use encore_domain::{
    service_date, Artist, ArtistId, NormalizedName, RelatedArtist, RelatedSnapshot, Track,
};
use encore_kakao::limits::validate;
use encore_kakao::SkillResponse;
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::eventbridge::{self as eventbridge_adapter, EventBridgePublisher};
use encore_messaging::sqs::{self, SqsQueue};
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_messaging::{EventPublisher, OutgoingEvent, Queue};
use encore_store::dynamodb::{self, DynamoTopTracks};
use encore_store::mysql::MySqlStore;
use encore_store::sqlite::SqliteStore;
use encore_store::{
    ArtistStore, BackendError, RelatedStore, RequestLog, RequestRecord, RequestStatus,
    TopTracksCache,
};
use encore_test_support::{aws_config, TestDatabase};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// The secret in `events/samples/apigw-v2-skill-request.json`.
const SECRET: &str = "sample-secret-not-real";
const QUEUE_SETTINGS: QueueSettings = QueueSettings {
    visibility_timeout: Duration::from_secs(30),
    max_receives: 3,
};

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

// ------------------------------------------------------------------ catalog fixture

const BTS: &str = "3Nrfpe0tUJi4K4DXYWgMUX";
const SOLO: &str = "0SoloNewcomer000000000";

fn artist(id: &str, name: &str) -> Artist {
    Artist {
        id: id.parse().unwrap(),
        name: name.into(),
        popularity: Some(80),
        followers: None,
        genres: vec!["k-pop".into()],
        image_url: Some(format!("https://i.scdn.co/image/{id}")),
        spotify_url: Some(format!("https://open.spotify.com/artist/{id}")),
    }
}

/// A fixture's artist id.
fn aid(id: &str) -> ArtistId {
    id.parse().unwrap()
}

fn tracks(artist_id: &str, count: u32) -> Vec<Track> {
    (1..=count)
        .map(|rank| Track {
            id: format!("{artist_id}{rank:02}").parse().unwrap(),
            name: format!("Song {rank} of {artist_id}"),
            artist_id: artist_id.parse().unwrap(),
            rank,
            album_name: Some(format!("Album {rank}")),
            image_url: (rank % 2 == 1).then(|| format!("https://i.scdn.co/image/album{rank}")),
            popularity: Some(90 - rank),
            duration_ms: Some(200_000),
            spotify_url: Some(format!(
                "https://open.spotify.com/track/{artist_id}{rank:02}"
            )),
            features_source: None,
        })
        .collect()
}

/// Today in the service's time zone, as the chat decides what is new.
fn today() -> NaiveDate {
    service_date(Utc::now())
}

fn release(id: &str, name: &str, album_type: AlbumType, release_date: ReleaseDate) -> Release {
    Release {
        id: id.into(),
        name: name.into(),
        album_type,
        release_date,
        image_url: Some(format!("https://i.scdn.co/image/cover-{id}")),
        spotify_url: Some(format!("https://open.spotify.com/album/{id}")),
        primary_artist: true,
        total_tracks: Some(3),
    }
}

/// BTS's newest release: a single three days old, known to the day (new).
fn bts_latest() -> Release {
    let day = today().checked_sub_days(Days::new(3)).unwrap();
    release(
        "2BtsNewSingle000000000",
        "Hooligan",
        AlbumType::Single,
        ReleaseDate::Day(day),
    )
}

/// BTS's latest releases, newest first: the new single, then older albums.
fn bts_releases() -> Vec<Release> {
    vec![
        bts_latest(),
        release(
            "2BtsProof0000000000000",
            "Proof",
            AlbumType::Album,
            ReleaseDate::parse("2022-06-10").unwrap(),
        ),
        release(
            "2BtsBe0000000000000000",
            "BE",
            AlbumType::Album,
            ReleaseDate::parse("2020-11").unwrap(),
        ),
    ]
}

/// The newcomer's debut: an album four months old, known only to the month (not new).
fn solo_debut() -> Release {
    let month = today().checked_sub_months(Months::new(4)).unwrap();
    release(
        "2SoloDebut000000000000",
        "First Steps",
        AlbumType::Album,
        ReleaseDate::Day(month).truncated(DatePrecision::Month),
    )
}

const SIMILAR: [(&str, &str); 5] = [
    ("1SimilarOne00000000000", "SEVENTEEN"),
    ("2SimilarTwo00000000000", "Stray Kids"),
    ("3SimilarThree000000000", "TXT"),
    ("4SimilarFour0000000000", "ENHYPEN"),
    ("5SimilarFive0000000000", "ATEEZ"),
];

/// BTS (alias 방탄소년단) with five related artists and a new single, and a newcomer
/// without related artists whose debut is months old.
async fn seed(stores: &Stores) {
    let now = Utc::now();
    let mut all = vec![(BTS, "BTS"), (SOLO, "Solo Newcomer")];
    all.extend(SIMILAR);
    for (id, name) in all {
        stores
            .artists
            .upsert_artist(&artist(id, name))
            .await
            .unwrap();
        stores
            .top_tracks
            .put_top_tracks(&aid(id), &tracks(id, 10), now)
            .await
            .unwrap();
    }
    stores
        .artists
        .put_alias(&NormalizedName::of("방탄소년단"), &aid(BTS))
        .await
        .unwrap();
    let releases = [
        (BTS, bts_releases()),
        (SOLO, vec![solo_debut()]),
        // A similar artist's release stays off its card: only the asked artist shows one.
        (
            SIMILAR[0].0,
            vec![release(
                "2SimilarRelease0000000",
                "Seventeenth Heaven",
                AlbumType::Album,
                ReleaseDate::Year(2023),
            )],
        ),
    ];
    for (id, list) in releases {
        stores
            .top_tracks
            .put_latest_releases(&aid(id), &list, now)
            .await
            .unwrap();
    }
    let rows: Vec<RelatedArtist> = SIMILAR
        .iter()
        .enumerate()
        .map(|(i, (id, _))| RelatedArtist {
            artist_id: aid(BTS),
            rank: i as u32 + 1,
            related_id: aid(id),
            distance: 0.1 * (i + 1) as f64,
            snapshot: "2026-11-25".into(),
        })
        .collect();
    stores
        .related
        .replace_related(&RelatedSnapshot::from_rows(&rows).unwrap())
        .await
        .unwrap();
}

// ------------------------------------------------------------------ backends

/// A chat over one adapter set, with the queue its `ArtistRequested` events arrive on.
struct Backend {
    endpoint: Arc<SkillEndpoint>,
    requested: Arc<dyn Queue>,
    /// How long to wait for an event that should have arrived.
    patience: Duration,
}

/// How long a not-found result stands in these tests (a day in service).
const NOT_FOUND_STANDS: Duration = Duration::from_secs(3);

fn settings() -> ChatSettings {
    ChatSettings {
        cache_ttl: Duration::from_secs(60),
        not_found_retry_after: NOT_FOUND_STANDS,
        ..ChatSettings::default()
    }
}

fn guarded(stores: Stores) -> Arc<SkillEndpoint> {
    let secret = SkillSecret::new(SECRET).unwrap();
    Arc::new(SkillEndpoint::new(
        Chat::new(stores, settings()),
        SecretGuard::Required(secret),
    ))
}

/// One adapter set before it is bundled for a chat: the store of artists and related
/// artists, the top-tracks cache, the request log, the bus, and the queue its
/// `ArtistRequested` events arrive on.
struct Parts<A, T, L, P> {
    store: Arc<A>,
    top_tracks: Arc<T>,
    requests: Arc<L>,
    events: Arc<P>,
    requested: Arc<dyn Queue>,
    patience: Duration,
}

impl<A, T, L, P> Parts<A, T, L, P>
where
    A: ArtistStore + RelatedStore + 'static,
    T: TopTracksCache + 'static,
    L: RequestLog + 'static,
    P: EventPublisher + 'static,
{
    /// A seeded chat over these adapters, the request log and the bus wrapped by `wrap`.
    async fn backend<L2, P2>(
        self,
        wrap: impl FnOnce(Arc<L>, Arc<P>) -> (Arc<L2>, Arc<P2>),
    ) -> Backend
    where
        L2: RequestLog + 'static,
        P2: EventPublisher + 'static,
    {
        let (requests, events) = wrap(self.requests, self.events);
        let stores = Stores {
            artists: self.store.clone(),
            related: self.store,
            top_tracks: self.top_tracks,
            requests,
            events,
        };
        seed(&stores).await;
        Backend {
            endpoint: guarded(stores),
            requested: self.requested,
            patience: self.patience,
        }
    }
}

async fn embedded_parts() -> Parts<SqliteStore, SqliteStore, SqliteStore, EmbeddedBus> {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let queue: Arc<dyn Queue> = Arc::new(
        EmbeddedQueue::open(store.pool().clone(), "ingest", QUEUE_SETTINGS)
            .await
            .unwrap(),
    );
    let bus = EmbeddedBus::new().route(ArtistRequested::DETAIL_TYPE, queue.clone());
    Parts {
        store: store.clone(),
        top_tracks: store.clone(),
        requests: store,
        events: Arc::new(bus),
        requested: queue,
        patience: Duration::ZERO,
    }
}

async fn embedded() -> Backend {
    embedded_parts().await.backend(|l, p| (l, p)).await
}

async fn aws_parts() -> (
    Parts<MySqlStore, DynamoTopTracks, MySqlStore, EventBridgePublisher>,
    TestDatabase,
) {
    let config = aws_config().await;
    let sqs_client = aws_sdk_sqs::Client::new(&config);
    let db = TestDatabase::create("chat").await;
    let mysql = Arc::new(db.store().await);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("top_tracks_");
    dynamodb::create_table(&dynamo, &table).await.unwrap();
    let events = aws_sdk_eventbridge::Client::new(&config);
    let bus = unique("encore-chat-");
    let (queue, _dead_letters) =
        sqs::create_with_dead_letters(&sqs_client, &unique("ingest-"), QUEUE_SETTINGS)
            .await
            .unwrap();
    eventbridge_adapter::route_to_queue(&events, &bus, ArtistRequested::DETAIL_TYPE, &queue)
        .await
        .unwrap();
    let queue: Arc<SqsQueue> = Arc::new(queue);
    (
        Parts {
            store: mysql.clone(),
            top_tracks: Arc::new(DynamoTopTracks::new(dynamo, table)),
            requests: mysql,
            events: Arc::new(EventBridgePublisher::new(events, bus)),
            requested: queue,
            patience: Duration::from_secs(2),
        },
        db,
    )
}

async fn aws() -> (Backend, TestDatabase) {
    let (parts, db) = aws_parts().await;
    (parts.backend(|l, p| (l, p)).await, db)
}

impl Backend {
    /// The `ArtistRequested` events published since the last call.
    async fn take_requested(&self) -> Vec<ArtistRequested> {
        let mut out = Vec::new();
        loop {
            let wait = if out.is_empty() {
                self.patience
            } else {
                Duration::ZERO
            };
            let batch = self.requested.receive(10, wait).await.unwrap();
            if batch.is_empty() {
                return out;
            }
            for message in batch {
                out.push(encore_messaging::decode::<ArtistRequested>(&message.body).unwrap());
                self.requested.delete(&message.receipt).await.unwrap();
            }
        }
    }

    async fn status(&self, normalized: &str) -> Option<RequestStatus> {
        self.endpoint
            .chat
            .stores()
            .requests
            .status(&NormalizedName::of(normalized))
            .await
            .unwrap()
    }
}

// ------------------------------------------------------------------ transports

/// How a request reaches the chat.
enum Transport {
    /// A POST to the local axum server.
    Http {
        client: reqwest::Client,
        url: String,
    },
    /// An API Gateway v2 event (the sample, with its body and headers replaced).
    Lambda,
}

impl Transport {
    async fn http(endpoint: Arc<SkillEndpoint>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{SKILL_PATH}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, endpoint));
        Transport::Http {
            client: reqwest::Client::new(),
            url,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Transport::Http { .. } => "http",
            Transport::Lambda => "lambda",
        }
    }

    /// Sends `body` with `secret` in the secret header (none: no header); the status and
    /// the JSON answer.
    async fn send(
        &self,
        endpoint: &SkillEndpoint,
        secret: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        match self {
            Transport::Http { client, url } => {
                let mut request = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body);
                if let Some(secret) = secret {
                    request = request.header("X-Encore-Skill-Secret", secret);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let content_type = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    content_type.starts_with("application/json"),
                    "{content_type}"
                );
                (status, response.json().await.unwrap())
            }
            Transport::Lambda => {
                let mut event = sample_event();
                let headers = event["headers"].as_object_mut().unwrap();
                match secret {
                    Some(secret) => headers.insert("x-encore-skill-secret".into(), secret.into()),
                    None => headers.remove("x-encore-skill-secret"),
                };
                match String::from_utf8(body) {
                    Ok(text) => event["body"] = text.into(),
                    Err(raw) => {
                        event["body"] = base64::engine::general_purpose::STANDARD
                            .encode(raw.as_bytes())
                            .into();
                        event["isBase64Encoded"] = true.into();
                    }
                }
                let payload: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
                let response =
                    handle_apigw(endpoint, LambdaEvent::new(payload, Context::default()))
                        .await
                        .unwrap();
                let Some(aws_lambda_events::encodings::Body::Text(text)) = response.body else {
                    panic!("no text body: {response:?}");
                };
                assert!(response.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"));
                (
                    response.status_code as u16,
                    serde_json::from_str(&text).unwrap(),
                )
            }
        }
    }
}

fn sample_event() -> Value {
    let path = format!(
        "{}/../../events/samples/apigw-v2-skill-request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&raw).unwrap()
}

fn skill_body(utterance: &str, callback_url: Option<&str>) -> Vec<u8> {
    json!({
        "intent": {"id": "b1", "name": "artist"},
        "userRequest": {"timezone": "Asia/Seoul", "params": {"surface": "Kakaotalk.plusfriend"},
            "block": {"id": "b1", "name": "artist"}, "utterance": utterance, "lang": null,
            "user": {"id": "user-1", "type": "botUserKey", "properties": {"plusfriendUserKey": "k"}},
            "callbackUrl": callback_url},
        "bot": {"id": "6400!", "name": "encore"},
        "action": {"id": "s1", "name": "chat", "params": {}, "detailParams": {}, "clientExtra": null},
        "contexts": []
    })
    .to_string()
    .into_bytes()
}

/// The answer parsed, after checking it against every Kakao limit.
fn answer(status: u16, body: &Value) -> SkillResponse {
    assert_eq!(status, 200, "{body}");
    let response: SkillResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(validate(&response), Ok(()));
    response
}

fn first_text(body: &Value) -> &str {
    body["template"]["outputs"][0]["simpleText"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {body}"))
}

// ------------------------------------------------------------------ scenarios

/// Every answer kind through `transport`; `tag` keeps unknown names apart between runs
/// on the same backend.
async fn answer_kinds(backend: &Backend, transport: &Transport, tag: &str) {
    let endpoint = &*backend.endpoint;
    let send = |body| transport.send(endpoint, Some(SECRET), body);

    // The sample event as API Gateway sends it (artist from the action parameter).
    let (status, body) = send(sample_event()["body"].as_str().unwrap().as_bytes().to_vec()).await;
    answer(status, &body);
    let carousel = &body["template"]["outputs"][1]["carousel"];
    assert_eq!(carousel["type"], "listCard", "{body}");
    let cards = carousel["items"].as_array().unwrap();
    assert_eq!(cards.len(), 5, "the artist and four similar");
    assert_eq!(cards[0]["header"]["title"], "BTS");
    assert_eq!(cards[1]["header"]["title"], "SEVENTEEN");
    assert_eq!(
        cards[0]["items"].as_array().unwrap().len(),
        4,
        "the latest release and three top tracks"
    );
    let latest = bts_latest();
    let release_row = &cards[0]["items"][0];
    assert_eq!(release_row["title"], "NEW · Hooligan", "{body}");
    assert_eq!(
        release_row["description"],
        format!("{} · 싱글", latest.release_date),
        "the date to the day"
    );
    assert_eq!(
        release_row["link"]["web"],
        "https://open.spotify.com/album/2BtsNewSingle000000000"
    );
    assert_eq!(
        release_row["imageUrl"],
        "https://i.scdn.co/image/cover-2BtsNewSingle000000000"
    );
    assert_eq!(
        cards[0]["items"][1]["link"]["web"],
        format!("https://open.spotify.com/track/{BTS}01")
    );
    assert_eq!(cards[0]["items"][1]["description"], "Album 1");
    assert_eq!(
        cards[1]["items"].as_array().unwrap().len(),
        3,
        "a similar artist's card shows no release"
    );
    assert_eq!(
        cards[1]["items"][0]["title"],
        format!("Song 1 of {}", SIMILAR[0].0)
    );
    assert_eq!(
        cards[0]["buttons"][0]["webLinkUrl"],
        "https://www.youtube.com/results?search_query=BTS"
    );
    let replies: Vec<&str> = body["template"]["quickReplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageText"].as_str().unwrap())
        .collect();
    assert_eq!(replies, ["SEVENTEEN", "Stray Kids", "TXT", "ENHYPEN"]);

    // A learned alias, from the utterance, with a callback URL: answered at once anyway.
    let (status, by_alias) = send(skill_body(
        "방탄소년단",
        Some("https://bot-api.kakao.com/v1/cb/x"),
    ))
    .await;
    assert!(!answer(status, &by_alias).use_callback);
    assert_eq!(
        by_alias["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"],
        "BTS"
    );

    // A known artist without related artists yet.
    let (status, solo) = send(skill_body("  solo   NEWCOMER ", None)).await;
    answer(status, &solo);
    assert!(first_text(&solo).contains("03:00 KST"), "{solo}");
    assert!(
        !first_text(&solo).contains("내일"),
        "never 'tomorrow': {solo}"
    );
    let solo_card = &solo["template"]["outputs"][1]["listCard"];
    assert_eq!(solo_card["header"]["title"], "Solo Newcomer");
    let debut = solo_debut();
    assert_eq!(solo_card["items"][0]["title"], "최신 발매 · First Steps");
    let month = debut.release_date.to_string();
    assert_eq!(month.len(), "YYYY-MM".len(), "{month}");
    assert_eq!(
        solo_card["items"][0]["description"],
        format!("{month} · 앨범"),
        "the date to the month, no day invented"
    );
    assert_eq!(solo_card["items"][1]["title"], format!("Song 1 of {SOLO}"));

    // Blank or meaningless input: help, nothing claimed or published.
    for meaningless in ["", "   ", "🎵🎶✨", "?!…", &"a".repeat(101)] {
        let (status, help) = send(skill_body(meaningless, None)).await;
        answer(status, &help);
        assert!(first_text(&help).contains("BTS"), "{help}");
    }
    assert!(backend.take_requested().await.is_empty());

    // An unknown artist without a callback: looking up, published once within the window.
    let unknown = format!("Unknown Band {tag}");
    let (status, looking) = send(skill_body(&unknown, None)).await;
    answer(status, &looking);
    assert!(first_text(&looking).contains(&unknown), "{looking}");
    assert_eq!(
        looking["template"]["quickReplies"][0]["messageText"],
        unknown.as_str()
    );
    let (status, again) = send(skill_body(&format!(" {} ", unknown.to_uppercase()), None)).await;
    answer(status, &again);
    let published = backend.take_requested().await;
    assert_eq!(published.len(), 1, "published once: {published:?}");
    assert_eq!(published[0].query, unknown);
    assert_eq!(published[0].normalized, unknown.to_lowercase());
    assert_eq!(published[0].requested_by.as_deref(), Some("user-1"));
    assert_eq!(published[0].callback_url, None);
    assert_eq!(
        backend.status(&unknown.to_lowercase()).await,
        Some(RequestStatus::Pending)
    );

    // An unknown artist with Kakao's callback URL: useCallback, and the URL travels.
    let callback = "https://bot-api.kakao.com/v1/bots/6400/callback/token";
    let waiting_name = format!("Waiting Band {tag}");
    let (status, waiting) = send(skill_body(&waiting_name, Some(callback))).await;
    let response = answer(status, &waiting);
    assert!(
        response.use_callback && response.template.is_none(),
        "{waiting}"
    );
    assert!(waiting["data"]["text"]
        .as_str()
        .unwrap()
        .contains(&waiting_name));
    let published = backend.take_requested().await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].callback_url.as_deref(), Some(callback));

    // A callback URL outside the allow-list is not passed on.
    let (status, refused) = send(skill_body(
        &format!("Evil Band {tag}"),
        Some("https://evil.example/cb"),
    ))
    .await;
    assert!(!answer(status, &refused).use_callback);
    let published = backend.take_requested().await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].callback_url, None);
}

/// Rejected requests get their status and change nothing; injection-looking names are
/// plain data.
async fn bad_inputs(backend: &Backend, transport: &Transport, tag: &str) {
    let endpoint = &*backend.endpoint;
    let named = |name: &str| skill_body(&format!("{name} {tag}"), None);
    let mut huge =
        json!({"userRequest": {"utterance": format!("Huge {tag}"), "user": {"id": "u"}}});
    huge["padding"] = "x".repeat(70 * 1024).into();
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("no secret", None, named("No Secret"), 401),
        ("wrong secret", Some("sample-secret-not-reaL"), named("Wrong Secret"), 401),
        ("empty secret", Some(""), named("Empty Secret"), 401),
        ("injection without secret", None, named("x'); DROP TABLE artists;--"), 401),
        ("malformed JSON", Some(SECRET), br#"{"userRequest": {"utterance": "Mal"#.to_vec(), 400),
        ("empty body", Some(SECRET), Vec::new(), 400),
        ("not an object", Some(SECRET), b"[]".to_vec(), 400),
        ("no userRequest", Some(SECRET), br#"{"bot": {"id": "b"}, "utterance": "No Request"}"#.to_vec(), 400),
        ("no utterance", Some(SECRET), br#"{"userRequest": {"user": {"id": "u"}}}"#.to_vec(), 400),
        ("no user id", Some(SECRET), br#"{"userRequest": {"utterance": "No User", "user": {}}}"#.to_vec(), 400),
        ("utterance a number", Some(SECRET), br#"{"userRequest": {"utterance": 42, "user": {"id": "u"}}}"#.to_vec(), 400),
        ("userRequest a string", Some(SECRET), br#"{"userRequest": "BTS"}"#.to_vec(), 400),
        ("user id an object", Some(SECRET), br#"{"userRequest": {"utterance": "Obj", "user": {"id": {}}}}"#.to_vec(), 400),
        (
            "invalid UTF-8",
            Some(SECRET),
            b"{\"userRequest\": {\"utterance\": \"Bad \xff\xfe Bytes\", \"user\": {\"id\": \"u\"}}}".to_vec(),
            400,
        ),
        ("huge body", Some(SECRET), huge.to_string().into_bytes(), 413),
    ];
    for (what, secret, body, expected) in cases {
        let (status, reply) = transport.send(endpoint, secret, body).await;
        assert_eq!(
            status,
            expected,
            "{what} over {}: {reply}",
            transport.name()
        );
        assert!(
            reply["error"].is_string() && reply["reason"].is_string(),
            "{what}: {reply}"
        );
        assert!(
            !reply.to_string().contains(SECRET),
            "{what} echoes the secret"
        );
    }
    assert!(
        backend.take_requested().await.is_empty(),
        "a rejected request published"
    );
    for name in ["no secret", "wrong secret", "empty secret", "huge"] {
        assert_eq!(
            backend
                .status(&format!("{name} {}", tag.to_lowercase()))
                .await,
            None,
            "{name} was claimed"
        );
    }
    for name in ["mal", "no user", "obj", "no request"] {
        assert_eq!(backend.status(name).await, None, "{name} was claimed");
    }

    // Names that look like SQL or HTML are names: answered, requested verbatim, harmless.
    for name in [
        format!("x'); DROP TABLE artists;-- {tag}"),
        format!("<b>alert('x')</b> \"{tag}\""),
    ] {
        let (status, reply) = transport
            .send(endpoint, Some(SECRET), skill_body(&name, None))
            .await;
        answer(status, &reply);
        assert!(first_text(&reply).contains(&name), "{reply}");
        let published = backend.take_requested().await;
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].query, name);
    }
    let (status, bts) = transport
        .send(endpoint, Some(SECRET), skill_body("BTS", None))
        .await;
    answer(status, &bts);
    assert_eq!(
        bts["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"], "BTS",
        "the tables survived"
    );
}

async fn run_all(backend: &Backend) {
    // The stores keep asked_at to the millisecond (MariaDB) or finer: a second of slack.
    let started = Utc::now() - chrono::Duration::seconds(1);
    let http = Transport::http(backend.endpoint.clone()).await;
    for transport in [http, Transport::Lambda] {
        let tag = format!("{}{}", transport.name(), &unique("")[..6]);
        answer_kinds(backend, &transport, &tag).await;
        bad_inputs(backend, &transport, &tag).await;
    }
    // Known artists answered from the stores are recorded as asked about, for the daily
    // refresh; artists only shown as similar are not.
    let asked = backend
        .endpoint
        .chat
        .stores()
        .requests
        .asked_since(started)
        .await
        .unwrap();
    for name in ["bts", "방탄소년단", "solo newcomer"] {
        assert!(asked.iter().any(|a| a == name), "{name} not in {asked:?}");
    }
    assert!(!asked.iter().any(|a| a == "seventeen"), "{asked:?}");
}

/// The quick replies' message texts.
fn replies(body: &Value) -> Vec<&str> {
    body["template"]["quickReplies"]
        .as_array()
        .map(|replies| {
            replies
                .iter()
                .map(|r| r["messageText"].as_str().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

/// Once ingest found no such artist, every ask is answered "not found" at once, with
/// known names close to what was typed, and nothing is published until the result has
/// stood for [`NOT_FOUND_STANDS`]; then the next ask requests it again. Once ingest gave
/// up on a request, the next ask says so and requests again.
async fn not_found_answers(backend: &Backend) {
    let endpoint = &*backend.endpoint;
    let transport = &Transport::http(backend.endpoint.clone()).await;
    let ask = |text: &'static str| async move {
        let (status, body) = transport
            .send(endpoint, Some(SECRET), skill_body(text, None))
            .await;
        answer(status, &body);
        body
    };
    let first = ask("Stray Kidz").await;
    assert!(first_text(&first).contains("Stray Kidz"), "{first}");
    assert_eq!(backend.take_requested().await.len(), 1);
    let requests = &endpoint.chat.stores().requests;
    requests
        .finish(&NormalizedName::of("stray kidz"), RequestStatus::NotFound)
        .await
        .unwrap();
    requests
        .finish(&NormalizedName::of("txz"), RequestStatus::NotFound)
        .await
        .unwrap();
    for typed in ["Stray Kidz", "  STRAY   kidz "] {
        let reply = ask(typed).await;
        assert!(first_text(&reply).contains(typed.trim()), "{reply}");
        assert_eq!(replies(&reply), ["Stray Kids"], "{reply}");
    }
    let short = ask("TXZ").await;
    assert_eq!(replies(&short), ["TXT"], "{short}");
    let nothing_close = {
        requests
            .finish(
                &NormalizedName::of("zzyzx unheard band 42"),
                RequestStatus::NotFound,
            )
            .await
            .unwrap();
        ask("Zzyzx Unheard Band 42").await
    };
    assert_eq!(
        replies(&nothing_close),
        ["BTS", "아이유", "Red Velvet"],
        "the examples when no known name is close: {nothing_close}"
    );
    assert!(
        backend.take_requested().await.is_empty(),
        "a standing not-found result is not requested again"
    );

    tokio::time::sleep(NOT_FOUND_STANDS + Duration::from_millis(200)).await;
    let again = ask("Stray Kidz").await;
    assert!(first_text(&again).contains("Stray Kidz"), "{again}");
    assert_eq!(
        replies(&again),
        ["Stray Kidz"],
        "looking it up again: {again}"
    );
    let published = backend.take_requested().await;
    assert_eq!(published.len(), 1, "requested again once the result is old");
    assert_eq!(
        backend.status("stray kidz").await,
        Some(RequestStatus::Pending)
    );

    // Ingest gave up on the last request (dead-lettered): said plainly, requested again.
    ask("Broken Band").await;
    assert_eq!(backend.take_requested().await.len(), 1);
    requests
        .finish(&NormalizedName::of("broken band"), RequestStatus::Failed)
        .await
        .unwrap();
    let retried = ask("Broken Band").await;
    assert!(
        first_text(&retried).contains("문제가 생겼어요"),
        "{retried}"
    );
    assert_eq!(replies(&retried), ["Broken Band"]);
    assert_eq!(backend.take_requested().await.len(), 1, "requested again");
    assert_eq!(
        backend.status("broken band").await,
        Some(RequestStatus::Pending)
    );
}

/// A point the handler can be held at: closed, every caller waits there until it opens.
struct Gate {
    closed: tokio::sync::watch::Sender<bool>,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            closed: tokio::sync::watch::channel(false).0,
            waiting: Default::default(),
        })
    }

    fn close(&self) {
        self.closed.send_replace(true);
    }

    fn open(&self) {
        self.closed.send_replace(false);
    }

    /// Callers held here now (a dropped caller leaves).
    fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn pass(&self) {
        struct Held<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _held = Held(&self.waiting);
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(|closed| !closed).await;
    }
}

/// A bus whose publish waits at a gate first.
struct GatedBus<P: ?Sized>(Arc<P>, Arc<Gate>);

#[async_trait]
impl<P: EventPublisher + ?Sized> EventPublisher for GatedBus<P> {
    async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), BackendError> {
        self.1.pass().await;
        self.0.publish(events).await
    }
}

/// A request log whose claim waits at a gate first.
struct GatedLog<L: ?Sized>(Arc<L>, Arc<Gate>);

#[async_trait]
impl<L: RequestLog + ?Sized> RequestLog for GatedLog<L> {
    async fn claim(
        &self,
        normalized: &NormalizedName,
        now: chrono::DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, BackendError> {
        self.1.pass().await;
        self.0.claim(normalized, now, window).await
    }
    async fn finish(
        &self,
        normalized: &NormalizedName,
        status: RequestStatus,
    ) -> Result<(), BackendError> {
        self.0.finish(normalized, status).await
    }
    async fn status(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestStatus>, BackendError> {
        self.0.status(normalized).await
    }
    async fn record(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestRecord>, BackendError> {
        self.0.record(normalized).await
    }
    async fn asked(
        &self,
        normalized: &NormalizedName,
        at: chrono::DateTime<Utc>,
    ) -> Result<(), BackendError> {
        self.0.asked(normalized, at).await
    }
    async fn asked_since(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<NormalizedName>, BackendError> {
        self.0.asked_since(since).await
    }
}

/// The gates of a gated backend: before publishing, before claiming.
struct Gates {
    publish: Arc<Gate>,
    claim: Arc<Gate>,
}

/// A request log and a bus, each behind its gate.
type Gated<L, P> = (Arc<GatedLog<L>>, Arc<GatedBus<P>>);

/// Wraps a backend's request log and bus in gates.
fn gate<L: RequestLog + ?Sized, P: EventPublisher + ?Sized>(
    gates: &Gates,
) -> impl FnOnce(Arc<L>, Arc<P>) -> Gated<L, P> + '_ {
    |requests, events| {
        (
            Arc::new(GatedLog(requests, gates.claim.clone())),
            Arc::new(GatedBus(events, gates.publish.clone())),
        )
    }
}

fn gates() -> Gates {
    Gates {
        publish: Gate::new(),
        claim: Gate::new(),
    }
}

/// A skill request for `utterance`, as parsed from Kakao's JSON.
fn skill_request(utterance: &str) -> encore_kakao::SkillRequest {
    serde_json::from_slice(&skill_body(utterance, None)).unwrap()
}

/// Lets `handle_skill` run until it waits at a gate, then drops it.
async fn cancelled_at(backend: &Backend, gate: &Gate, utterance: &str) {
    let request = skill_request(utterance);
    let mut handler = Box::pin(encore_chat::handle_skill(&request, &backend.endpoint.chat));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gate.waiting() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{utterance}: the handler never reached the gate"
        );
        if tokio::time::timeout(Duration::from_millis(5), &mut handler)
            .await
            .is_ok()
        {
            panic!("{utterance}: the handler finished without reaching the gate");
        }
    }
    drop(handler);
    assert_eq!(gate.waiting(), 0, "the handler future is dropped");
}

/// A client disconnecting, a crash or a timeout between the steps of a request never
/// leaves a claim with nothing queued: either the event is on the bus, or the next ask
/// requests it again.
async fn no_orphaned_claims(backend: &Backend, gates: &Gates) {
    let endpoint = &*backend.endpoint;
    let ask = |text: &'static str| async move {
        let (status, body) = Transport::Lambda
            .send(endpoint, Some(SECRET), skill_body(text, None))
            .await;
        answer(status, &body);
        body
    };

    // Cancelled while publishing: nothing queued and nothing claimed.
    gates.publish.close();
    cancelled_at(backend, &gates.publish, "Cancelled Band").await;
    gates.publish.open();
    assert_eq!(backend.status("cancelled band").await, None);
    assert!(backend.take_requested().await.is_empty());
    ask("Cancelled Band").await;
    assert_eq!(
        backend.take_requested().await.len(),
        1,
        "the next ask publishes"
    );
    assert_eq!(
        backend.status("cancelled band").await,
        Some(RequestStatus::Pending)
    );

    // Cancelled after publishing, before the claim: the event is queued, and the next ask
    // publishes the same request again (one event id) rather than waiting on nothing.
    gates.claim.close();
    cancelled_at(backend, &gates.claim, "Half Done Band").await;
    gates.claim.open();
    let first = backend.take_requested().await;
    assert_eq!(first.len(), 1, "queued before the claim: {first:?}");
    assert_eq!(backend.status("half done band").await, None);
    ask("Half Done Band").await;
    let again = backend.take_requested().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].meta.id, first[0].meta.id, "one logical request");
    assert_eq!(
        backend.status("half done band").await,
        Some(RequestStatus::Pending)
    );

    // A client that drops the connection while the chat publishes (Kakao gives up at 5 s).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, backend.endpoint.clone()));
    gates.publish.close();
    {
        use tokio::io::AsyncWriteExt;
        let body = skill_body("Dropped Band", None);
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {SKILL_PATH} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             x-encore-skill-secret: {SECRET}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        client.write_all(head.as_bytes()).await.unwrap();
        client.write_all(&body).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while gates.publish.waiting() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the request never reached the bus"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // The client is gone; the server drops the handler, or lets it finish.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while gates.publish.waiting() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gates.publish.open();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued = backend.take_requested().await;
    let claimed = backend.status("dropped band").await;
    assert!(
        (queued.len() == 1 && claimed == Some(RequestStatus::Pending))
            || (queued.is_empty() && claimed.is_none()),
        "a claim without its event: queued {queued:?}, claimed {claimed:?}"
    );
    ask("Dropped Band").await;
    assert_eq!(
        backend.status("dropped band").await,
        Some(RequestStatus::Pending)
    );
    if claimed.is_none() {
        assert_eq!(
            backend.take_requested().await.len(),
            1,
            "the next ask publishes"
        );
    }
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn no_orphaned_claims_on_sqlite_and_the_embedded_bus() {
    let gates = gates();
    let backend = embedded_parts().await.backend(gate(&gates)).await;
    no_orphaned_claims(&backend, &gates).await;
}

#[tokio::test]
async fn no_orphaned_claims_on_mariadb_dynamodb_and_eventbridge() {
    let gates = gates();
    let (parts, db) = aws_parts().await;
    let backend = parts.backend(gate(&gates)).await;
    no_orphaned_claims(&backend, &gates).await;
    db.drop_database().await;
}

#[tokio::test]
async fn not_found_on_sqlite_and_the_embedded_bus() {
    not_found_answers(&embedded().await).await;
}

#[tokio::test]
async fn not_found_on_mariadb_dynamodb_and_eventbridge() {
    let (backend, db) = aws().await;
    not_found_answers(&backend).await;
    db.drop_database().await;
}

#[tokio::test]
async fn every_answer_and_bad_input_on_sqlite_and_the_embedded_bus() {
    run_all(&embedded().await).await;
}

#[tokio::test]
async fn every_answer_and_bad_input_on_mariadb_dynamodb_and_eventbridge() {
    let (backend, db) = aws().await;
    run_all(&backend).await;
    db.drop_database().await;
}

#[tokio::test]
async fn cached_answers_refresh_on_invalidate() {
    let backend = embedded().await;
    let transport = Transport::Lambda;
    let ask = || {
        transport.send(
            &backend.endpoint,
            Some(SECRET),
            skill_body("Solo Newcomer", None),
        )
    };
    let (_, before) = ask().await;
    assert!(
        before["template"]["outputs"][1]["listCard"].is_object(),
        "{before}"
    );
    let related = RelatedArtist {
        artist_id: aid(SOLO),
        rank: 1,
        related_id: aid(BTS),
        distance: 0.5,
        snapshot: "2026-11-26".into(),
    };
    backend
        .endpoint
        .chat
        .stores()
        .related
        .replace_related(&RelatedSnapshot::from_rows(&[related]).unwrap())
        .await
        .unwrap();
    let (_, cached) = ask().await;
    assert_eq!(cached, before, "served from the cache until invalidated");
    backend.endpoint.chat.invalidate();
    let (_, after) = ask().await;
    assert_eq!(
        after["template"]["outputs"][1]["carousel"]["items"][1]["header"]["title"], "BTS",
        "{after}"
    );
}

/// A bus that always fails.
struct BrokenBus;

#[async_trait]
impl EventPublisher for BrokenBus {
    async fn publish(&self, _events: &[OutgoingEvent]) -> Result<(), BackendError> {
        Err(BackendError::unavailable("the bus is down"))
    }
}

#[tokio::test]
async fn failures_after_a_valid_request_are_friendly_200s() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let stores = Stores {
        artists: store.clone(),
        related: store.clone(),
        top_tracks: store.clone(),
        requests: store.clone(),
        events: Arc::new(BrokenBus),
    };
    seed(&stores).await;
    let endpoint = guarded(stores);
    let transport = Transport::http(endpoint.clone()).await;

    let (status, reply) = transport
        .send(&endpoint, Some(SECRET), skill_body("Nobody Yet", None))
        .await;
    answer(status, &reply);
    assert_eq!(
        reply,
        serde_json::to_value(&*endpoint.chat.failure().response).unwrap()
    );
    assert_eq!(
        store
            .status(&NormalizedName::of("nobody yet"))
            .await
            .unwrap(),
        None,
        "nothing is claimed for a request that is not on the bus"
    );

    store.pool().close().await;
    let (status, reply) = transport
        .send(&endpoint, Some(SECRET), skill_body("Someone Else", None))
        .await;
    answer(status, &reply);
    assert_eq!(
        reply,
        serde_json::to_value(&*endpoint.chat.failure().response).unwrap()
    );
}

/// A request log whose asked-about record always fails; everything else is SQLite's.
struct ForgetfulLog(Arc<SqliteStore>, Forgets);

/// How a [`ForgetfulLog`] fails to record that a user asked.
#[derive(Clone, Copy)]
enum Forgets {
    /// The write is refused.
    Refusing,
    /// The write never ends (a writer waiting behind a long background write).
    Hanging,
}

#[async_trait]
impl RequestLog for ForgetfulLog {
    async fn claim(
        &self,
        normalized: &NormalizedName,
        now: chrono::DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, BackendError> {
        self.0.claim(normalized, now, window).await
    }
    async fn finish(
        &self,
        normalized: &NormalizedName,
        status: RequestStatus,
    ) -> Result<(), BackendError> {
        self.0.finish(normalized, status).await
    }
    async fn status(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestStatus>, BackendError> {
        self.0.status(normalized).await
    }
    async fn record(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestRecord>, BackendError> {
        self.0.record(normalized).await
    }
    async fn asked(
        &self,
        _normalized: &NormalizedName,
        _at: chrono::DateTime<Utc>,
    ) -> Result<(), BackendError> {
        match self.1 {
            Forgets::Refusing => Err(BackendError::unavailable("the request log is read-only")),
            Forgets::Hanging => std::future::pending().await,
        }
    }
    async fn asked_since(
        &self,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<NormalizedName>, BackendError> {
        self.0.asked_since(since).await
    }
}

#[tokio::test]
async fn a_failed_asked_record_does_not_fail_the_answer() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let stores = Stores {
        artists: store.clone(),
        related: store.clone(),
        top_tracks: store.clone(),
        requests: Arc::new(ForgetfulLog(store.clone(), Forgets::Refusing)),
        events: Arc::new(EmbeddedBus::new()),
    };
    seed(&stores).await;
    let endpoint = guarded(stores);
    let (status, reply) = Transport::Lambda
        .send(&endpoint, Some(SECRET), skill_body("BTS", None))
        .await;
    answer(status, &reply);
    let first_card = &reply["template"]["outputs"][1]["carousel"]["items"][0];
    assert_eq!(first_card["header"]["title"], "BTS", "{reply}");
    assert_eq!(first_card["items"][0]["title"], "NEW · Hooligan");
    assert!(store
        .asked_since(Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap()
        .is_empty());
}

/// A known artist's answer does not wait for the record that a user asked (a write, which
/// on SQLite queues behind every background writer): with that write never ending, the
/// answer still comes, and a second ask is served from the cache.
#[tokio::test]
async fn a_hanging_asked_record_does_not_hold_the_answer() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let stores = Stores {
        artists: store.clone(),
        related: store.clone(),
        top_tracks: store.clone(),
        requests: Arc::new(ForgetfulLog(store.clone(), Forgets::Hanging)),
        events: Arc::new(EmbeddedBus::new()),
    };
    seed(&stores).await;
    let endpoint = guarded(stores);
    for ask in ["first", "cached"] {
        let sent = Transport::Lambda.send(&endpoint, Some(SECRET), skill_body("BTS", None));
        let (status, reply) = tokio::time::timeout(Duration::from_secs(30), sent)
            .await
            .unwrap_or_else(|_| panic!("the {ask} answer waited for the asked record"));
        answer(status, &reply);
        let first_card = &reply["template"]["outputs"][1]["carousel"]["items"][0];
        assert_eq!(first_card["header"]["title"], "BTS", "{ask}: {reply}");
    }
}

#[tokio::test]
async fn an_unreadable_release_leaves_out_the_row_not_the_answer() {
    let parts = embedded_parts().await;
    let store = parts.store.clone();
    let backend = parts.backend(|l, p| (l, p)).await;
    sqlx::query("UPDATE latest_releases SET releases = 'not json' WHERE artist_id = ?")
        .bind(BTS)
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        store.latest_releases(&aid(BTS)).await.is_err(),
        "the entry is corrupt"
    );
    let (status, reply) = Transport::Lambda
        .send(&backend.endpoint, Some(SECRET), skill_body("BTS", None))
        .await;
    answer(status, &reply);
    let first_card = &reply["template"]["outputs"][1]["carousel"]["items"][0];
    assert_eq!(first_card["header"]["title"], "BTS", "{reply}");
    assert_eq!(first_card["items"][0]["title"], format!("Song 1 of {BTS}"));
}

#[tokio::test]
async fn without_a_secret_the_server_only_listens_on_loopback() {
    let loopback = "127.0.0.1:8080".parse().unwrap();
    let public = "0.0.0.0:8080".parse().unwrap();
    assert!(check_exposure(&SecretGuard::Disabled, loopback).is_ok());
    assert!(matches!(
        check_exposure(&SecretGuard::Disabled, public),
        Err(ServeError::SecretRequired(_))
    ));
    let secret = SecretGuard::Required(SkillSecret::new(SECRET).unwrap());
    assert!(check_exposure(&secret, public).is_ok());

    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let stores = Stores::shared(store, Arc::new(EmbeddedBus::new()));
    seed(&stores).await;
    let open = Arc::new(SkillEndpoint::new(
        Chat::new(stores, settings()),
        SecretGuard::Disabled,
    ));
    let transport = Transport::http(open.clone()).await;
    let (status, reply) = transport.send(&open, None, skill_body("BTS", None)).await;
    answer(status, &reply);
}
