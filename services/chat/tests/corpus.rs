//! The real-payload corpus (`events/samples/kakao/`, sources in its `SOURCES.md`): every
//! payload Kakao's docs and public skill servers show is answered 200 with an answer within
//! Kakao's limits, through the local axum server (real HTTP) and through the Lambda handler
//! (API Gateway v2 event), on SQLite + the embedded bus and on MariaDB + DynamoDB +
//! EventBridge (the local test stack: `bash infra/local/stack.sh`).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use encore_chat::lambda::handle_apigw;
use encore_chat::server::{serve, SKILL_PATH};
use encore_chat::{Chat, ChatSettings, SecretGuard, SkillEndpoint, SkillSecret, Stores};
use encore_domain::events::{ArtistRequested, BusEvent};
use encore_kakao::limits::validate;
use encore_kakao::render;
use encore_kakao::{SkillRequest, SkillResponse};
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::eventbridge::{self as eventbridge_adapter, EventBridgePublisher};
use encore_messaging::sqs;
use encore_messaging::Queue;
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_store::dynamodb::{self, DynamoTopTracks};
use encore_store::sqlite::SqliteStore;
use encore_test_support::{aws_config, TestDatabase};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

const SECRET: &str = "corpus-secret-not-real";
const QUEUE_SETTINGS: QueueSettings = QueueSettings {
    visibility_timeout: Duration::from_secs(30),
    max_receives: 3,
};

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// What the chat must answer to one payload of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The name is unknown: the looking-up answer naming it, and one `ArtistRequested`.
    LookingUp,
    /// Unknown, with Kakao's callback URL: `useCallback`, and the URL travels with the event.
    Callback,
    /// Not a name (a picture's URL, too long to be one): the help answer, nothing requested.
    Help,
}

/// Every payload of the corpus with what the chat reads from it and must answer. A file
/// in the directory but not here fails the test, so the table cannot fall behind.
const CORPUS: [(&str, &str, Expect); 12] = [
    (
        "docs-knowledge-plus.json",
        "<사용자 발화>",
        Expect::LookingUp,
    ),
    (
        "docs-action-example.json",
        "<사용자 발화>",
        Expect::LookingUp,
    ),
    (
        "docs-sys-entities-encoded.json",
        "1 금요일 강남",
        Expect::LookingUp,
    ),
    (
        "docs-sys-entities-as-objects.json",
        "1 금요일 강남",
        Expect::LookingUp,
    ),
    ("docs-v1-talk-user-id.json", "스킬", Expect::LookingUp),
    ("docs-v2-lang-kr.json", "<사용자 발화>", Expect::LookingUp),
    ("kakao-skill-md-callback.json", "아이유", Expect::Callback),
    (
        "skill-test-account-id.json",
        "Can you tell me the Wi-Fi information for Battie?",
        Expect::LookingUp,
    ),
    (
        "real-quickreply-fallback.json",
        "생각 다 끝났나요?",
        Expect::LookingUp,
    ),
    ("real-callback-custom-entity.json", "aaa", Expect::Callback),
    ("real-slot-filling.json", "01012345678", Expect::LookingUp),
    ("image-upload-media.json", "", Expect::Help),
];

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/samples/kakao")
}

fn read(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn the_table_names_every_payload_of_the_corpus() {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut listed: Vec<&str> = CORPUS.iter().map(|(name, _, _)| *name).collect();
    listed.sort_unstable();
    assert_eq!(files, listed);
    let sources = String::from_utf8(read("SOURCES.md")).unwrap();
    for name in listed {
        assert!(
            sources.contains(&format!("`{name}`")),
            "{name} has no source"
        );
    }
}

// ------------------------------------------------------------------ backends

/// A chat over one adapter set, with the queue its `ArtistRequested` events arrive on.
struct Backend {
    endpoint: Arc<SkillEndpoint>,
    requested: Arc<dyn Queue>,
    patience: Duration,
}

fn guarded(stores: Stores) -> Arc<SkillEndpoint> {
    Arc::new(SkillEndpoint::new(
        Chat::new(stores, ChatSettings::default()),
        SecretGuard::Required(SkillSecret::new(SECRET).unwrap()),
    ))
}

async fn embedded() -> Backend {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let queue: Arc<dyn Queue> = Arc::new(
        EmbeddedQueue::open(store.pool().clone(), "ingest", QUEUE_SETTINGS)
            .await
            .unwrap(),
    );
    let bus = EmbeddedBus::new().route(ArtistRequested::DETAIL_TYPE, queue.clone());
    Backend {
        endpoint: guarded(Stores::shared(store, Arc::new(bus))),
        requested: queue,
        patience: Duration::ZERO,
    }
}

async fn aws() -> (Backend, TestDatabase) {
    let config = aws_config().await;
    let sqs_client = aws_sdk_sqs::Client::new(&config);
    let db = TestDatabase::create("corpus").await;
    let mysql = Arc::new(db.store().await);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("top_tracks_");
    dynamodb::create_table(&dynamo, &table).await.unwrap();
    let events = aws_sdk_eventbridge::Client::new(&config);
    let bus = unique("encore-corpus-");
    let (queue, _dead_letters) =
        sqs::create_with_dead_letters(&sqs_client, &unique("ingest-"), QUEUE_SETTINGS)
            .await
            .unwrap();
    eventbridge_adapter::route_to_queue(&events, &bus, ArtistRequested::DETAIL_TYPE, &queue)
        .await
        .unwrap();
    let stores = Stores {
        artists: mysql.clone(),
        related: mysql.clone(),
        top_tracks: Arc::new(DynamoTopTracks::new(dynamo, table)),
        requests: mysql,
        events: Arc::new(EventBridgePublisher::new(events, bus)),
    };
    (
        Backend {
            endpoint: guarded(stores),
            requested: Arc::new(queue),
            patience: Duration::from_secs(2),
        },
        db,
    )
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
}

// ------------------------------------------------------------------ transports

/// Sends `body` to `endpoint` over real HTTP (a local axum server on 127.0.0.1) or as an API
/// Gateway v2 event to the Lambda handler; the status and the JSON answer.
async fn send(endpoint: &Arc<SkillEndpoint>, http: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    match http {
        Some(url) => {
            let response = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("X-Encore-Skill-Secret", SECRET)
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.json().await.unwrap())
        }
        None => {
            let path = corpus_dir().join("../apigw-v2-skill-request.json");
            let mut event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            event["headers"]["x-encore-skill-secret"] = SECRET.into();
            event["body"] = String::from_utf8(body).unwrap().into();
            event["isBase64Encoded"] = false.into();
            let request: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
            let response = handle_apigw(endpoint, LambdaEvent::new(request, Context::default()))
                .await
                .unwrap();
            let Some(aws_lambda_events::encodings::Body::Text(text)) = response.body else {
                panic!("no text body: {response:?}");
            };
            (
                response.status_code as u16,
                serde_json::from_str(&text).unwrap(),
            )
        }
    }
}

/// The one text of a rendered answer (a simple text, or a callback's waiting text).
fn answer_text(response: SkillResponse) -> String {
    let body = serde_json::to_value(response).unwrap();
    body["template"]["outputs"][0]["simpleText"]["text"]
        .as_str()
        .or_else(|| body["data"]["text"].as_str())
        .unwrap_or_else(|| panic!("no text: {body}"))
        .to_owned()
}

/// Every corpus payload through one transport on a fresh backend, then the events.
async fn answers_every_payload(backend: &Backend, http: Option<&str>) {
    let transport = if http.is_some() { "http" } else { "lambda" };
    for (name, query, expect) in CORPUS {
        let raw = read(name);
        let request: SkillRequest = serde_json::from_slice(&raw).unwrap();
        let (status, body) = send(&backend.endpoint, http, raw).await;
        assert_eq!(status, 200, "{name} over {transport}: {body}");
        let response: SkillResponse = serde_json::from_value(body.clone())
            .unwrap_or_else(|e| panic!("{name}: not a skill response ({e}): {body}"));
        assert_eq!(validate(&response), Ok(()), "{name}: {body}");
        let text = body["template"]["outputs"][0]["simpleText"]["text"]
            .as_str()
            .or_else(|| body["data"]["text"].as_str())
            .unwrap_or_else(|| panic!("{name}: no text: {body}"));
        match expect {
            Expect::LookingUp => {
                assert!(!response.use_callback, "{name}: {body}");
                assert_eq!(text, answer_text(render::looking_up(query)), "{name}");
            }
            Expect::Callback => {
                assert!(response.use_callback, "{name}: {body}");
                assert_eq!(text, answer_text(render::waiting(query)), "{name}");
            }
            Expect::Help => assert!(text.contains("BTS"), "{name}: {body}"),
        }
        if expect != Expect::Help {
            assert_eq!(request.param_or_utterance("artist").trim(), query, "{name}");
        }
    }

    let published = backend.take_requested().await;
    for (name, query, expect) in CORPUS {
        let event = published.iter().find(|e| e.query == query);
        match expect {
            Expect::Help => assert!(event.is_none(), "{name} requested {event:?}"),
            Expect::LookingUp => {
                let event = event.unwrap_or_else(|| panic!("{name}: {query:?} not requested"));
                assert_eq!(event.callback_url, None, "{name}");
            }
            Expect::Callback => {
                let event = event.unwrap_or_else(|| panic!("{name}: {query:?} not requested"));
                let request: SkillRequest = serde_json::from_slice(&read(name)).unwrap();
                assert_eq!(
                    event.callback_url, request.user_request.callback_url,
                    "{name}: the callback URL travels"
                );
                assert_eq!(
                    event.requested_by.as_deref(),
                    Some(request.user_request.user.id.as_str()),
                    "{name}"
                );
            }
        }
    }
}

async fn http_url(endpoint: Arc<SkillEndpoint>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{SKILL_PATH}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, endpoint));
    url
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn every_real_payload_is_answered_on_sqlite_and_the_embedded_bus() {
    let backend = embedded().await;
    let url = http_url(backend.endpoint.clone()).await;
    answers_every_payload(&backend, Some(&url)).await;
    answers_every_payload(&embedded().await, None).await;
}

#[tokio::test]
async fn every_real_payload_is_answered_on_mariadb_dynamodb_and_eventbridge() {
    let (backend, db) = aws().await;
    let url = http_url(backend.endpoint.clone()).await;
    answers_every_payload(&backend, Some(&url)).await;
    db.drop_database().await;
    let (backend, db) = aws().await;
    answers_every_payload(&backend, None).await;
    db.drop_database().await;
}
