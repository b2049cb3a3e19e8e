//! The `encore` binary as a user runs it: `serve` answering the sample skill request and
//! ingesting an unknown artist in the background, a backfill killed midway that loses
//! no requested artist after a restart, and a refresh bringing a new release into the
//! answer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use encore_domain::normalize;

const ENCORE: &str = env!("CARGO_BIN_EXE_encore");

fn data_set() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/spotify_songs.csv.gz");
    assert!(
        path.exists(),
        "the songs data set is missing at {}: it is part of ../shared",
        path.display()
    );
    path
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("encore-local-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn encore(data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(ENCORE);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("ENCORE_QUEUE_VISIBILITY_SECS", "2")
        .env_remove("SPOTIFY_CLIENT_ID")
        .env_remove("SPOTIFY_CLIENT_SECRET")
        .env_remove("ENCORE_SKILL_SECRET");
    command
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn post_skill(base: &str, body: &str) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{base}/skill"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn serve_answers_the_sample_request_and_ingests_unknown_artists() {
    let dir = temp_dir("serve");
    let port = free_port();
    let _server = Running(
        encore(&dir, &["serve", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/")).await.is_err() {
        assert!(Instant::now() < deadline, "encore serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);

    let sample = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/samples/kakao-skill-request.json"),
    )
    .unwrap();
    let first = post_skill(&base, &sample).await;
    assert!(
        first["template"]["outputs"][0]["simpleText"].is_object(),
        "{first}"
    );
    assert!(
        first["template"]["outputs"]
            .to_string()
            .find("carousel")
            .is_none(),
        "unknown at first: {first}"
    );

    // Ingest runs in the background; asking again soon shows BTS's card.
    loop {
        let answer = post_skill(&base, &sample).await;
        let text = answer.to_string();
        if text.contains("listCard") || text.contains("\"header\"") {
            assert!(text.contains("BTS"), "{text}");
            assert!(text.contains("open.spotify.com/track/"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "BTS was not ingested in time: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // GET /status serves the figures of `encore status` while serve runs.
    let status: serde_json::Value = reqwest::get(format!("{base}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(status["artists"].as_u64().unwrap() >= 1, "{status}");
    let queues: Vec<&str> = status["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(queues, ["ingest", "lake"], "{status}");
    assert!(status["queues"][0]["dead_letters"].is_u64(), "{status}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn status_shows_queues_dead_letters_the_last_job_and_counts() {
    let dir = temp_dir("status");
    let status = |dir: &Path| -> serde_json::Value {
        let out = encore(dir, &["status", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let fresh = status(&dir);
    assert_eq!(fresh["artists"], 0, "{fresh}");
    assert_eq!(fresh["related_rows"], 0, "{fresh}");
    assert!(fresh["last_job"].is_null(), "{fresh}");
    for queue in fresh["queues"].as_array().unwrap() {
        assert_eq!(queue["depth"], 0, "{fresh}");
        assert_eq!(queue["dead_letters"], 0, "{fresh}");
    }

    // A failed run is recorded as such.
    let failed = encore(&dir, &["similarity", "run"]).output().unwrap();
    assert!(
        !failed.status.success(),
        "the job needs profiles in the lake"
    );
    let after_failure = status(&dir);
    assert_eq!(
        after_failure["last_job"]["outcome"], "failed",
        "{after_failure}"
    );

    let catalog = data_set();
    let ok = encore(
        &dir,
        &[
            "backfill",
            "--catalog",
            catalog.to_str().unwrap(),
            "--limit",
            "40",
        ],
    )
    .stdout(Stdio::null())
    .status()
    .unwrap();
    assert!(ok.success());
    let ok = encore(&dir, &["similarity", "run"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let done = status(&dir);
    let artists = done["artists"].as_u64().unwrap();
    assert!(artists >= 30, "{done}");
    assert_eq!(done["last_job"]["outcome"], "ok", "{done}");
    assert_eq!(done["last_job"]["rows"], done["related_rows"], "{done}");
    assert!(done["related_rows"].as_u64().unwrap() > 0, "{done}");
    assert!(done["last_job"]["knn_seconds"].is_number(), "{done}");
    assert!(done["cached_artists"].as_u64().unwrap() >= 1, "{done}");
    for queue in done["queues"].as_array().unwrap() {
        assert_eq!(queue["depth"], 0, "backfill drains the queues: {done}");
    }

    let text = encore(&dir, &["status"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("queue ingest"), "{text}");
    assert!(
        text.contains(&format!("artists      {artists:>6} stored")),
        "{text}"
    );
    assert!(text.contains("last job     ok at"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn requested_statuses(dir: &Path) -> Vec<String> {
    let db = dir.join("encore.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT normalized FROM artist_requests WHERE status IN ('done', 'not_found')",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    })
}

#[test]
fn backfill_killed_midway_loses_no_requested_artist() {
    const LIMIT: usize = 150;
    let dir = temp_dir("backfill");
    let catalog = data_set();
    let limit = LIMIT.to_string();
    let args = [
        "backfill",
        "--catalog",
        catalog.to_str().unwrap(),
        "--limit",
        &limit,
    ];

    let mut first = encore(&dir, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let db = dir.join("encore.db");
    // Kill it once the requests are queued and ingest has started, but not finished.
    loop {
        if dir
            .join(format!(
                "backfill-requested-{}",
                catalog.file_name().unwrap().to_string_lossy()
            ))
            .exists()
            && db.exists()
            && !requested_statuses(&dir).is_empty()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first backfill made no progress"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the backfill finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let done_before = requested_statuses(&dir).len();

    let status = encore(&dir, &args).stdout(Stdio::null()).status().unwrap();
    assert!(status.success());

    let catalog_artists = encore_standin::Catalog::load(&catalog).unwrap();
    let mut wanted: Vec<String> = catalog_artists
        .artists()
        .iter()
        .take(LIMIT)
        .map(|a| normalize(&a.name))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut finished = requested_statuses(&dir);
    finished.sort();
    assert!(
        done_before < wanted.len(),
        "the kill came too late to test anything"
    );
    assert_eq!(
        finished, wanted,
        "every requested artist is ingested (or known not to exist) after the restart"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A catalog row in the songs data set's layout (without the evaluation-label columns).
fn catalog_row(track: &str, artist: &str, album: &str, release_date: &str) -> String {
    let id = |tag: &str| format!("{:x<22}", tag.replace(' ', ""));
    format!(
        "{},{track},{artist},50,{},{album},{release_date},0.5,0.6,5,-6.5,1,0.05,0.1,0,0.1,0.4,120,200000\n",
        id(&format!("t{track}")),
        id(&format!("a{album}"))
    )
}

fn chat_text(dir: &Path, utterance: &str) -> String {
    let output = encore(dir, &["chat", utterance, "--text"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn refresh_brings_a_new_release_into_the_answer() {
    let dir = temp_dir("refresh");
    let header =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/catalog.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
            + "\n";
    let today = encore_domain::service_date(chrono::Utc::now())
        .format("%Y-%m-%d")
        .to_string();
    let before = header
        + &catalog_row("Old Hit", "Refresh Band", "Old Album", "2019-05")
        + &catalog_row("Older Hit", "Refresh Band", "Older Album", "2017")
        + &catalog_row("Quiet Song", "Never Asked", "Quiet Album", "2018-01-02");
    let v1 = dir.join("catalog-v1.csv");
    std::fs::write(&v1, &before).unwrap();
    let backfill = encore(&dir, &["backfill", "--catalog", v1.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(backfill.success());

    let first = chat_text(&dir, "Refresh Band");
    assert!(
        first.contains("Old Album") && first.contains("2019-05"),
        "latest release at month precision: {first}"
    );
    assert!(!first.contains("NEW"), "a 2019 release is not new: {first}");

    // The catalog gains a single released today; nobody clears a cache.
    let v2 = dir.join("catalog-v2.csv");
    std::fs::write(
        &v2,
        before + &catalog_row("Brand New", "Refresh Band", "Fresh Single", &today),
    )
    .unwrap();
    assert!(!chat_text(&dir, "Refresh Band").contains("Fresh Single"));
    let refresh = encore(&dir, &["refresh", "--catalog", v2.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        refresh.status.success(),
        "{}",
        String::from_utf8_lossy(&refresh.stderr)
    );
    let said = String::from_utf8_lossy(&refresh.stdout);
    assert!(
        said.contains(" 1 artist(s) asked about"),
        "only the artist users asked about is refreshed: {said}"
    );

    let after = chat_text(&dir, "Refresh Band");
    assert!(
        after.contains("Fresh Single") && after.contains(&today),
        "{after}"
    );
    assert!(after.contains("NEW"), "released today: marked new: {after}");
    let _ = std::fs::remove_dir_all(&dir);
}
