//! The migrate function on MariaDB (`ENCORE_TEST_MYSQL_URL`, the test stack): the custom
//! resource protocol, answered to a local HTTP server standing in for the pre-signed S3
//! `ResponseURL` (Create, Update, Delete, failures), a rollback onto a newer schema, and
//! the function users' privileges. The response object's fields are AWS's:
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use encore_domain::{ArtistId, NormalizedName, RelatedSnapshot};
use encore_migrate::{answer, SchemaRequest, SecretSource, Target};
use encore_store::migrate::{tables, MIGRATIONS_TABLE};
use encore_store::mysql::MySqlStore;
use encore_store::{ArtistStore, DatamartWatermark, RelatedStore, RequestLog, RequestStatus};
use encore_test_support::TestDatabase;
use serde_json::{json, Value};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{Connection, MySqlConnection};

// ------------------------------------------------------------------ the response URL

/// One request the stand-in for the pre-signed URL received.
#[derive(Debug, Clone)]
struct Put {
    method: Method,
    content_type: Option<String>,
    bytes: usize,
    body: Value,
}

/// A local HTTP server recording every request it gets, answering 200 like S3.
struct ResponseUrl {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Put>>>,
}

impl ResponseUrl {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, received }
    }

    /// A URL shaped like CloudFormation's (a path and a signature in the query).
    fn url(&self) -> String {
        format!(
            "http://{}/arn%3Aaws%3Acloudformation%3Aap-northeast-2%3A123456789012%3Astack/encore/1%7CDatabaseSchema%7C1?X-Amz-Signature=abc",
            self.addr
        )
    }

    /// The one request received since the last call.
    fn take_one(&self) -> Put {
        let mut received = self.received.lock().unwrap();
        assert_eq!(received.len(), 1, "{received:?}");
        received.remove(0)
    }
}

async fn record(
    State(received): State<Arc<Mutex<Vec<Put>>>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let put = Put {
        method,
        content_type: headers
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned()),
        bytes: body.len(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    received.lock().unwrap().push(put);
    StatusCode::OK
}

// ------------------------------------------------------------------ the stack's pieces

/// Secrets by ARN, as Secrets Manager would hold them.
#[derive(Default, Clone)]
struct Secrets(Arc<Mutex<HashMap<String, String>>>);

impl Secrets {
    fn put(&self, arn: &str, value: Value) {
        self.0
            .lock()
            .unwrap()
            .insert(arn.to_owned(), value.to_string());
    }
}

#[async_trait]
impl SecretSource for Secrets {
    async fn secret_string(&self, arn: &str) -> Result<String, String> {
        self.0
            .lock()
            .unwrap()
            .get(arn)
            .cloned()
            .ok_or_else(|| format!("no secret {arn}"))
    }
}

/// A database of its own and three function users of their own on the test server.
struct TestStack {
    database: TestDatabase,
    prefix: String,
    secrets: Secrets,
}

const FUNCTIONS: [&str; 3] = ["chat", "ingest", "similarity"];

impl TestStack {
    async fn create() -> Self {
        let database = TestDatabase::create("migrate").await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stack = Self {
            database,
            prefix: format!("m{}", &id[..12]),
            secrets: Secrets::default(),
        };
        for function in FUNCTIONS {
            stack.set_password(function, &format!("Pw{function}{}", &id[..8]));
        }
        stack
    }

    fn username(&self, function: &str) -> String {
        format!("{}_{function}", self.prefix)
    }

    fn arn(&self, function: &str) -> String {
        format!(
            "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:{}-{function}",
            self.prefix
        )
    }

    fn set_password(&self, function: &str, password: &str) {
        self.secrets.put(
            &self.arn(function),
            json!({"username": self.username(function), "password": password}),
        );
    }

    fn password(&self, function: &str) -> String {
        let raw = self.secrets.0.lock().unwrap()[&self.arn(function)].clone();
        serde_json::from_str::<Value>(&raw).unwrap()["password"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The master's options (the test server's root user) on this stack's database.
    fn master(&self) -> MySqlConnectOptions {
        self.database.options()
    }

    /// How `function` connects: its own user and password.
    fn as_user(&self, function: &str) -> MySqlConnectOptions {
        self.master()
            .username(&self.username(function))
            .password(&self.password(function))
    }

    fn target(&self) -> Target<Secrets> {
        Target::with_options(self.master(), self.secrets.clone()).unwrap()
    }

    /// The resource's properties as CloudFormation sends them (ServiceToken included).
    fn properties(&self) -> Value {
        json!({
            "ServiceToken": "arn:aws:lambda:ap-northeast-2:123456789012:function:encore-migrate",
            "ChatUserSecretArn": self.arn("chat"),
            "IngestUserSecretArn": self.arn("ingest"),
            "SimilarityUserSecretArn": self.arn("similarity"),
        })
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let mut admin = MySqlConnection::connect_with(&self.master()).await.unwrap();
        let value = sqlx::query_scalar(sql).fetch_one(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        value
    }

    async fn drop(self) {
        let mut admin = MySqlConnection::connect_with(self.database.server())
            .await
            .unwrap();
        for function in FUNCTIONS {
            sqlx::raw_sql(&format!(
                "DROP USER IF EXISTS '{}'@'%'",
                self.username(function)
            ))
            .execute(&mut admin)
            .await
            .unwrap();
        }
        admin.close().await.unwrap();
        self.database.drop_database().await;
    }
}

/// A request as CloudFormation sends it (the fields of crpg-ref-requesttypes).
fn request(kind: &str, url: &str, physical: Option<&str>, properties: Value) -> SchemaRequest {
    let mut request = json!({
        "RequestType": kind,
        "ServiceToken": properties["ServiceToken"],
        "RequestId": uuid::Uuid::new_v4().to_string(),
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:ap-northeast-2:123456789012:stack/encore/6d2a1f60-0000-0000-0000-000000000000",
        "ResourceType": "Custom::DatabaseSchema",
        "LogicalResourceId": "DatabaseSchema",
        "ResourceProperties": properties,
    });
    if let Some(physical) = physical {
        request["PhysicalResourceId"] = json!(physical);
    }
    if kind == "Update" {
        request["OldResourceProperties"] = request["ResourceProperties"].clone();
    }
    serde_json::from_value(request).unwrap()
}

/// Sends `request` through the Lambda handler and returns what the response URL got,
/// checking the parts every answer shares: a PUT with an empty Content-Type, at most
/// 4,096 bytes, echoing the request's ids, with a non-empty physical id.
/// Answers a Create with the stack's own properties (a first deploy), which must succeed.
async fn create(stack: &TestStack, receiver: &ResponseUrl) -> Value {
    let created = run(
        &stack.target(),
        receiver,
        request("Create", &receiver.url(), None, stack.properties()),
    )
    .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    created
}

async fn run(
    stack_target: &Target<Secrets>,
    receiver: &ResponseUrl,
    request: SchemaRequest,
) -> Value {
    let sent = serde_json::to_value(&request).unwrap();
    answer(request, stack_target, &reqwest::Client::new())
        .await
        .unwrap();
    let put = receiver.take_one();
    assert_eq!(put.method, Method::PUT);
    assert_eq!(
        put.content_type.as_deref(),
        Some(""),
        "Content-Type must be empty"
    );
    assert!(put.bytes <= 4096, "{} bytes", put.bytes);
    for field in ["RequestId", "StackId", "LogicalResourceId"] {
        assert_eq!(put.body[field], sent[field], "{field}");
    }
    let physical = put.body["PhysicalResourceId"].as_str().unwrap_or_default();
    assert!(!physical.is_empty(), "{}", put.body);
    if let Some(asked) = sent["PhysicalResourceId"].as_str() {
        assert_eq!(physical, asked, "the physical id never changes");
    }
    put.body
}

async fn table_names(stack: &TestStack) -> Vec<String> {
    let mut admin = MySqlConnection::connect_with(&stack.master())
        .await
        .unwrap();
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    names.retain(|n| n != MIGRATIONS_TABLE);
    names
}

fn newest_known_migration() -> i64 {
    std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/store/migrations/mysql"
    ))
    .unwrap()
    .filter_map(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .split('_')
            .next()?
            .parse::<i64>()
            .ok()
    })
    .max()
    .unwrap()
}

// ------------------------------------------------------------------ the protocol

#[tokio::test]
async fn create_update_and_delete_are_answered_and_delete_keeps_the_data() {
    let stack = TestStack::create().await;
    let receiver = ResponseUrl::start().await;
    let target = stack.target();

    let created = create(&stack, &receiver).await;
    assert_eq!(
        created["Data"]["SchemaVersion"],
        newest_known_migration().to_string()
    );
    let physical = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    let mut expected: Vec<String> = tables::ALL.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(table_names(&stack).await, expected);
    let users = stack
        .scalar(&format!(
            "SELECT COUNT(*) FROM mysql.user WHERE user LIKE '{}\\_%'",
            stack.prefix
        ))
        .await;
    assert_eq!(users, 3);
    MySqlStore::connect_with(stack.as_user("chat"))
        .await
        .unwrap();

    // Data written between deploys survives the Update and the Delete.
    let mut admin = MySqlConnection::connect_with(&stack.master())
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "INSERT INTO {} (alias, artist_id, created_at) VALUES ('bts', '3Nrfpe0tUJi4K4DXYWgMUX', NOW())",
        tables::ARTIST_ALIASES
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();

    // An Update (a new build, a rotated password) runs again and keeps the id.
    stack.set_password("chat", "Rotated2ndPassword");
    let updated = run(
        &target,
        &receiver,
        request(
            "Update",
            &receiver.url(),
            Some(&physical),
            stack.properties(),
        ),
    )
    .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    MySqlStore::connect_with(stack.as_user("chat"))
        .await
        .expect("the chat user has its new password");

    let deleted = run(
        &target,
        &receiver,
        request(
            "Delete",
            &receiver.url(),
            Some(&physical),
            stack.properties(),
        ),
    )
    .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(table_names(&stack).await, expected, "Delete drops nothing");
    let aliases = stack
        .scalar(&format!("SELECT COUNT(*) FROM {}", tables::ARTIST_ALIASES))
        .await;
    assert_eq!(aliases, 1);
    stack.drop().await;
}

#[tokio::test]
async fn failures_are_answered_failed_with_their_reason() {
    let stack = TestStack::create().await;
    let receiver = ResponseUrl::start().await;
    let target = stack.target();

    // A user secret that cannot be read: FAILED, saying which, and nothing migrated.
    let mut properties = stack.properties();
    properties["IngestUserSecretArn"] =
        json!("arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:gone");
    let failed = run(
        &target,
        &receiver,
        request("Create", &receiver.url(), None, properties),
    )
    .await;
    assert_eq!(failed["Status"], "FAILED", "{failed}");
    let reason = failed["Reason"].as_str().unwrap();
    assert!(reason.contains("ingest user's secret"), "{reason}");
    assert!(table_names(&stack).await.is_empty());
    // CloudFormation then deletes the failed resource: answered SUCCESS with its id.
    let physical = failed["PhysicalResourceId"].as_str().unwrap().to_owned();
    let deleted = run(
        &target,
        &receiver,
        request("Delete", &receiver.url(), Some(&physical), json!({})),
    )
    .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");

    // Properties that are not the resource's.
    let failed = run(
        &target,
        &receiver,
        request(
            "Create",
            &receiver.url(),
            None,
            json!({"ServiceToken": "x"}),
        ),
    )
    .await;
    assert_eq!(failed["Status"], "FAILED");
    assert!(
        failed["Reason"]
            .as_str()
            .unwrap()
            .contains("properties are invalid"),
        "{failed}"
    );

    // A password MySQL's user statements cannot carry: refused, and not echoed.
    stack.set_password("chat", "it's-secret");
    let failed = run(
        &target,
        &receiver,
        request("Create", &receiver.url(), None, stack.properties()),
    )
    .await;
    assert_eq!(failed["Status"], "FAILED");
    assert!(!failed.to_string().contains("it's-secret"), "{failed}");
    stack.set_password("chat", "GoodPassword1");

    // The database unreachable: FAILED within the function's time, naming the cause.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = Target::with_options(
        stack.master().host("127.0.0.1").port(port),
        stack.secrets.clone(),
    )
    .unwrap()
    .with_connect_wait(Duration::from_secs(3));
    let failed = tokio::time::timeout(
        Duration::from_secs(60),
        run(
            &unreachable,
            &receiver,
            request(
                "Update",
                &receiver.url(),
                Some(&physical),
                stack.properties(),
            ),
        ),
    )
    .await
    .expect("answered before CloudFormation's timeout");
    assert_eq!(failed["Status"], "FAILED");
    assert!(
        failed["Reason"].as_str().unwrap().contains("unavailable"),
        "{failed}"
    );
    stack.drop().await;
}

#[tokio::test]
async fn a_rollback_leaves_newer_migrations_in_place() {
    let stack = TestStack::create().await;
    let receiver = ResponseUrl::start().await;
    let target = stack.target();
    let created = create(&stack, &receiver).await;
    // A newer deploy applied a migration this build does not know; the rollback runs this
    // build's Update.
    let mut admin = MySqlConnection::connect_with(&stack.master())
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "INSERT INTO {MIGRATIONS_TABLE} (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'newer', TRUE, X'00', 1)"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let rolled_back = run(
        &target,
        &receiver,
        request(
            "Update",
            &receiver.url(),
            Some(physical),
            stack.properties(),
        ),
    )
    .await;
    assert_eq!(rolled_back["Status"], "SUCCESS", "{rolled_back}");
    let kept = stack
        .scalar(&format!(
            "SELECT COUNT(*) FROM {MIGRATIONS_TABLE} WHERE version = 99990101000000"
        ))
        .await;
    assert_eq!(kept, 1);
    stack.drop().await;
}

// ------------------------------------------------------------------ the users

/// The MySQL error number of a refused statement (1142: command denied on a table).
async fn refused(options: &MySqlConnectOptions, sql: &str) -> u16 {
    let mut conn = MySqlConnection::connect_with(options).await.unwrap();
    let err = sqlx::raw_sql(sql).execute(&mut conn).await.expect_err(sql);
    conn.close().await.unwrap();
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .unwrap()
            .number(),
        other => panic!("{sql}: {other}"),
    }
}

const TABLE_ACCESS_DENIED: u16 = 1142;

/// Asserts that MySQL denies `user` every one of `statements` on table access.
async fn assert_denied(stack: &TestStack, user: &str, statements: &[String]) {
    for forbidden in statements {
        assert_eq!(
            refused(&stack.as_user(user), forbidden).await,
            TABLE_ACCESS_DENIED,
            "{user}: {forbidden}"
        );
    }
}

/// A name's matching key.
fn key(name: &str) -> NormalizedName {
    NormalizedName::of(name)
}

/// The two artists the grants are tried on.
fn artist_ids() -> [ArtistId; 2] {
    ["0000000000000000000001", "0000000000000000000002"].map(|id| id.parse().unwrap())
}

fn artist(id: &ArtistId, name: &str) -> encore_domain::Artist {
    encore_domain::Artist {
        id: id.clone(),
        name: name.into(),
        popularity: Some(80),
        followers: Some(1_000),
        genres: vec!["k-pop".into()],
        image_url: None,
        spotify_url: None,
    }
}

#[tokio::test]
async fn each_function_user_does_its_work_and_nothing_else() {
    let stack = TestStack::create().await;
    let receiver = ResponseUrl::start().await;
    create(&stack, &receiver).await;
    let now = chrono::Utc::now();

    // ingest: artists, aliases, requests.
    let ingest = MySqlStore::connect_with(stack.as_user("ingest"))
        .await
        .unwrap();
    let ids = artist_ids();
    ingest.upsert_artist(&artist(&ids[0], "BTS")).await.unwrap();
    ingest.upsert_artist(&artist(&ids[1], "TXT")).await.unwrap();
    ingest.put_alias(&key("방탄소년단"), &ids[0]).await.unwrap();
    ingest
        .finish(&key("bts"), RequestStatus::Done)
        .await
        .unwrap();
    ingest.related(&ids[0], 4).await.unwrap();
    assert_denied(
        &stack,
        "ingest",
        &[
            format!(
                "INSERT INTO {} VALUES ('a', 1, 'b', 0, '2026-01-01')",
                tables::RELATED_ARTISTS
            ),
            format!("DROP TABLE {}", tables::ARTISTS),
            format!("DELETE FROM {}", tables::DATAMART_WATERMARK),
        ],
    )
    .await;

    // similarity: reads artists and requests, swaps the datamart in, records its watermark.
    let similarity = MySqlStore::connect_with(stack.as_user("similarity"))
        .await
        .unwrap();
    similarity
        .asked_since(now - chrono::Duration::days(30))
        .await
        .unwrap();
    similarity.last_ingested_at().await.unwrap();
    let row = encore_domain::RelatedArtist {
        artist_id: ids[0].clone(),
        rank: 1,
        related_id: ids[1].clone(),
        distance: 0.5,
        snapshot: "2026-12-02".into(),
    };
    similarity
        .replace_related(&RelatedSnapshot::from_rows(std::slice::from_ref(&row)).unwrap())
        .await
        .unwrap();
    similarity
        .replace_related(&RelatedSnapshot::from_rows(&[row]).unwrap())
        .await
        .unwrap();
    similarity.record_datamart_read_at(now).await.unwrap();
    assert_denied(
        &stack,
        "similarity",
        &[
            format!("DELETE FROM {}", tables::ARTISTS),
            format!("UPDATE {} SET status = 'x'", tables::ARTIST_REQUESTS),
            "CREATE TABLE anything_else (id INT)".to_owned(),
            format!("DROP TABLE {}", tables::ARTIST_ALIASES),
        ],
    )
    .await;

    // chat: reads what it answers from, claims and records requests.
    let chat = MySqlStore::connect_with(stack.as_user("chat"))
        .await
        .unwrap();
    assert_eq!(
        chat.find_artist(&key("방탄소년단"))
            .await
            .unwrap()
            .unwrap()
            .id,
        ids[0]
    );
    assert_eq!(chat.related(&ids[0], 4).await.unwrap().len(), 1);
    chat.known_names().await.unwrap();
    assert!(chat
        .claim(&key("newjeans"), now, Duration::from_secs(60))
        .await
        .unwrap());
    chat.asked(&key("bts"), now).await.unwrap();
    chat.record(&key("bts")).await.unwrap();
    assert_denied(
        &stack,
        "chat",
        &[
            format!(
                "INSERT INTO {} (alias, artist_id, created_at) VALUES ('x', 'y', NOW())",
                tables::ARTIST_ALIASES
            ),
            format!("DELETE FROM {}", tables::RELATED_ARTISTS),
            format!("DELETE FROM {}", tables::ARTIST_REQUESTS),
            format!("UPDATE {} SET name = 'x'", tables::ARTISTS),
        ],
    )
    .await;
    for store in [ingest, similarity, chat] {
        store.pool().close().await;
    }
    stack.drop().await;
}

// ------------------------------------------------------------------ RDS Proxy pinning

/// One line of MariaDB's general log: the command type and its text.
#[derive(Debug, Clone)]
struct Logged {
    command: String,
    argument: String,
}

/// What `username`'s connections sent, from MariaDB's general log (`log_output=TABLE`).
async fn sent_by(admin: &mut MySqlConnection, username: &str) -> Vec<Logged> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(command_type AS CHAR), CAST(argument AS CHAR) FROM mysql.general_log \
         WHERE event_time >= @logged_since AND thread_id IN \
               (SELECT thread_id FROM mysql.general_log \
                WHERE event_time >= @logged_since AND command_type = 'Connect' \
                      AND argument LIKE ?) \
         ORDER BY event_time",
    )
    .bind(format!("{username}@%"))
    .fetch_all(admin)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(command, argument)| Logged { command, argument })
        .collect()
}

/// What pins a session on RDS Proxy for MySQL: a prepared statement (SQL text or binary
/// protocol), a `SET` of a variable it does not track, a named lock, a statement over
/// 16 KB. <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html>
fn pinning(sent: &[Logged]) -> Vec<String> {
    sent.iter()
        .filter(|l| {
            matches!(
                l.command.as_str(),
                "Prepare" | "Execute" | "Close stmt" | "Long Data"
            ) || l
                .argument
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("SET ")
                || l.argument.to_ascii_uppercase().contains("GET_LOCK")
                || l.argument.to_ascii_uppercase().starts_with("PREPARE ")
                || l.argument.len() > 16 * 1024
        })
        .map(|l| {
            format!(
                "{}: {}",
                l.command,
                &l.argument[..l.argument.len().min(120)]
            )
        })
        .collect()
}

#[tokio::test]
async fn chat_and_ingest_connections_send_nothing_that_pins_the_proxy() {
    let stack = TestStack::create().await;
    let receiver = ResponseUrl::start().await;
    create(&stack, &receiver).await;
    let mut admin = MySqlConnection::connect_with(stack.database.server())
        .await
        .unwrap();
    let (general_log, log_output): (String, String) = sqlx::query_as(
        "SELECT CAST(@@global.general_log AS CHAR), CAST(@@global.log_output AS CHAR)",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    // Thread ids restart with the server, and the log table keeps earlier servers' rows:
    // only what this test sent counts.
    sqlx::raw_sql(
        "SET @logged_since = NOW(6); SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1",
    )
    .execute(&mut admin)
    .await
    .unwrap();

    let now = chrono::Utc::now();
    let ids = artist_ids();
    let ingest = MySqlStore::connect_with(stack.as_user("ingest"))
        .await
        .unwrap();
    ingest.upsert_artist(&artist(&ids[0], "BTS")).await.unwrap();
    ingest.upsert_artist(&artist(&ids[1], "TXT")).await.unwrap();
    ingest.put_alias(&key("방탄소년단"), &ids[0]).await.unwrap();
    ingest.find_artist(&key("bts")).await.unwrap();
    ingest.record(&key("bts")).await.unwrap();
    ingest
        .finish(&key("bts"), RequestStatus::Done)
        .await
        .unwrap();
    ingest.related(&ids[0], 4).await.unwrap();
    ingest.pool().close().await;

    let similarity = MySqlStore::connect_with(stack.as_user("similarity"))
        .await
        .unwrap();
    let row = encore_domain::RelatedArtist {
        artist_id: ids[0].clone(),
        rank: 1,
        related_id: ids[1].clone(),
        distance: 0.25,
        snapshot: "2026-12-02".into(),
    };
    similarity
        .replace_related(&RelatedSnapshot::from_rows(&[row]).unwrap())
        .await
        .unwrap();
    similarity.pool().close().await;

    let chat = MySqlStore::connect_with(stack.as_user("chat"))
        .await
        .unwrap();
    let found = chat.find_artist(&key("방탄소년단")).await.unwrap().unwrap();
    let related = chat.related(&found.id, 4).await.unwrap();
    assert_eq!(
        related[0].0.distance, 0.25,
        "a DOUBLE survives the text literal"
    );
    chat.artists(&[ids[0].to_owned(), ids[1].to_owned()])
        .await
        .unwrap();
    chat.known_names().await.unwrap();
    chat.claim(&key("newjeans"), now, Duration::from_secs(60))
        .await
        .unwrap();
    chat.asked(&key("bts"), now).await.unwrap();
    chat.status(&key("newjeans")).await.unwrap();
    chat.pool().close().await;

    let mut sent = HashMap::new();
    for function in FUNCTIONS {
        sent.insert(
            function,
            sent_by(&mut admin, &stack.username(function)).await,
        );
    }
    sqlx::raw_sql(&format!(
        "SET GLOBAL general_log = {}; SET GLOBAL log_output = '{log_output}'",
        if general_log == "1" || general_log == "ON" {
            1
        } else {
            0
        }
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();

    for function in ["chat", "ingest"] {
        let sent = &sent[function];
        // At connect: the handshake (Connect) and nothing else before the schema check.
        let first_query = sent.iter().position(|l| l.command == "Query").unwrap();
        assert_eq!(sent[0].command, "Connect", "{sent:?}");
        assert!(
            sent[first_query].argument.contains(MIGRATIONS_TABLE),
            "{function}'s first statement after connecting is the schema check: {sent:?}"
        );
        assert!(
            sent.iter().filter(|l| l.command == "Query").count() >= 7,
            "{function}: {sent:?}"
        );
        let pins = pinning(sent);
        assert!(pins.is_empty(), "{function} would pin the proxy: {pins:#?}");
        eprintln!(
            "{function} sent: {:?}",
            sent.iter().map(|l| l.command.as_str()).collect::<Vec<_>>()
        );
    }
    // The datamart swap is the one path that pins (named lock, prepared load): the check
    // sees it, so it would see the same in the chat's or ingest's statements.
    let pins = pinning(&sent["similarity"]);
    assert!(pins.iter().any(|p| p.contains("GET_LOCK")), "{pins:#?}");
    assert!(pins.iter().any(|p| p.starts_with("Prepare")), "{pins:#?}");
    stack.drop().await;
}
