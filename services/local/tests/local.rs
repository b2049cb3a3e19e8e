//! The `encore` binary as a user runs it: `serve` answering the sample skill request and
//! ingesting an unknown artist in the background, a backfill killed midway that loses
//! no requested artist after a restart, and a refresh bringing a new release into the
//! answer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use encore_domain::normalize;
use encore_kakao::response::{Carousel, Component};
use encore_test_support::data_set;

const ENCORE: &str = env!("CARGO_BIN_EXE_encore");
/// How long `encore serve` may take to listen: on a fresh data directory the first run
/// (the demo catalog through ingest and the lake, then the similarity job) comes first,
/// and a debug build on a shared machine is much slower than the README's release binary.
const SERVE_START: Duration = Duration::from_secs(120);

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

/// The cards of an answer: each card's title and its rows' titles (empty when the answer
/// has no carousel of list cards).
fn cards(answer: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let response: encore_kakao::SkillResponse =
        serde_json::from_value(answer.clone()).expect("a Kakao answer");
    let outputs = response.template.map(|t| t.outputs).unwrap_or_default();
    outputs
        .into_iter()
        .filter_map(|output| match output {
            Component::Carousel(Carousel::ListCard(list)) => Some(list),
            _ => None,
        })
        .flatten()
        .map(|card| {
            let rows = card.items.into_iter().map(|row| row.title).collect();
            (card.header.title, rows)
        })
        .collect()
}

/// A Kakao skill request for `utterance`, as the chat page sends it.
fn utterance_request(utterance: &str) -> String {
    serde_json::json!({"userRequest": {"utterance": utterance, "user": {"id": "first-minute"}}})
        .to_string()
}

/// Asks `utterance` until the answer has cards (ingest runs behind the queue for a name
/// the store has not seen), at most until `deadline`; the last answer's cards.
async fn ask_until_cards(
    base: &str,
    utterance: &str,
    deadline: Instant,
) -> Vec<(String, Vec<String>)> {
    loop {
        let answer = post_skill(base, &utterance_request(utterance)).await;
        let found = cards(&answer);
        if !found.is_empty() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{utterance:?} got no card in time: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `"…"` quoted texts of `line`.
fn quoted(line: &str) -> Vec<String> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every artist the chat page and the README offer as an example, so each is asked in the
/// test: the page's `예: A, B, C` lists (its welcome text, its placeholder), the help
/// answer's quick replies, the names quoted in the README's first paragraph, every
/// `encore chat "…"` and `encore related "…"` of the README, and the utterance of the sample
/// request the README's `curl` sends.
fn examples() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let mut names = Vec::new();
    for page in ["assets/index.html", "assets/chat.js"] {
        let text = read(page);
        for list in text.split("예: ").skip(1) {
            let list = list
                .split([')', '"', '\'', '\n', '<'])
                .next()
                .unwrap_or_default();
            names.extend(list.split(',').map(|n| n.trim().to_owned()));
        }
    }
    names.extend(
        encore_kakao::render::help()
            .template
            .unwrap()
            .quick_replies
            .into_iter()
            .map(|q| q.label),
    );
    let readme = read("../../README.md");
    let first_paragraph = readme
        .split("\n\n")
        .nth(1)
        .expect("the README opens with a title and a paragraph");
    names.extend(quoted(first_paragraph));
    for line in readme.lines() {
        for command in ["encore chat ", "encore related "] {
            if let Some(rest) = line.split(command).nth(1) {
                names.extend(quoted(rest).into_iter().take(1));
            }
        }
    }
    let sample: serde_json::Value =
        serde_json::from_str(&read("../../events/samples/kakao-skill-request.json")).unwrap();
    names.push(
        sample["userRequest"]["utterance"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn a_fresh_data_dir_answers_the_readme_request_with_five_cards_and_every_example() {
    let dir = temp_dir("serve");
    let port = free_port();
    let started = Instant::now();
    let _server = Running(
        encore(&dir, &["serve", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("serve.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + SERVE_START;
    while reqwest::get(format!("{base}/")).await.is_err() {
        assert!(Instant::now() < deadline, "encore serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let progress = std::fs::read_to_string(dir.join("serve.err")).unwrap();
    assert!(progress.contains("first run"), "{progress}");

    // The README's request, answered at once: BTS and four similar artists, each with tracks.
    let sample = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../events/samples/kakao-skill-request.json"),
    )
    .unwrap();
    let first = post_skill(&base, &sample).await;
    let shown = cards(&first);
    println!(
        "first answer {:.1} s after start",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(shown.len(), 5, "{first}");
    assert_eq!(shown[0].0, "BTS", "{first}");
    for (title, rows) in &shown {
        assert!(!rows.is_empty(), "{title} has no tracks: {first}");
    }
    assert!(
        first.to_string().contains("open.spotify.com/track/"),
        "{first}"
    );

    // Every example the page and the README offer answers with its card and four similar
    // artists (Korean names are looked up once, then served from the learned alias).
    let examples = examples();
    for name in ["BTS", "아이유", "NewJeans", "방탄소년단", "Red Velvet"] {
        assert!(
            examples.contains(&name.to_owned()),
            "{name} not found among {examples:?}"
        );
    }
    for name in &examples {
        let shown = ask_until_cards(&base, name, Instant::now() + Duration::from_secs(30)).await;
        assert_eq!(shown.len(), 5, "{name}: {shown:?}");
    }
    // GET /status serves the figures of `encore status` while serve runs.
    let status: serde_json::Value = reqwest::get(format!("{base}/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let artists = status["artists"].as_u64();
    assert!(artists.is_some_and(|n| n >= 1), "{status}");
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

#[tokio::test]
async fn a_new_artist_gets_four_similar_artists_within_90_seconds_of_being_asked() {
    const STORED: usize = 40;
    let dir = temp_dir("catch-up");
    let catalog = data_set();
    let limit = STORED.to_string();
    let ok = encore(
        &dir,
        &[
            "backfill",
            "--catalog",
            catalog.to_str().unwrap(),
            "--limit",
            &limit,
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

    // A popular artist of the data set that the store does not hold.
    let loaded = encore_standin::Catalog::load(&catalog).unwrap();
    let mut seen = std::collections::HashSet::new();
    let stored: Vec<String> = loaded
        .artists()
        .iter()
        .filter(|a| seen.insert(normalize(&a.name)))
        .take(STORED)
        .map(|a| normalize(&a.name))
        .collect();
    let new_artist = loaded
        .artists()
        .iter()
        .filter(|a| a.name.chars().all(|c| c.is_ascii_alphabetic() || c == ' '))
        .filter(|a| !stored.contains(&normalize(&a.name)))
        .max_by_key(|a| (a.popularity, a.name.clone()))
        .unwrap()
        .name
        .clone();

    let port = free_port();
    let _server = Running(
        encore(
            &dir,
            &[
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--catalog",
                catalog.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + SERVE_START;
    while reqwest::get(format!("{base}/")).await.is_err() {
        assert!(Instant::now() < deadline, "encore serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let asked = Instant::now();
    let deadline = asked + Duration::from_secs(90);
    loop {
        let shown = ask_until_cards(&base, &new_artist, deadline).await;
        if shown.len() == 5 {
            assert_eq!(normalize(&shown[0].0), normalize(&new_artist), "{shown:?}");
            println!(
                "{new_artist}: four similar artists {:.1} s after the first ask",
                asked.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{new_artist} has no four similar artists after 90 s: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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
        if backfill_published(&dir) == Some(LIMIT)
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

/// How many names the backfill's progress record says are published, if there is one.
fn backfill_published(dir: &Path) -> Option<usize> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().ends_with(".progress"))
        .and_then(|entry| std::fs::read_to_string(entry.path()).ok())
        .and_then(|text| text.trim().parse().ok())
}

/// `(normalized, attempts)` of every finished request.
fn request_attempts(dir: &Path) -> Vec<(String, i64)> {
    let db = dir.join("encore.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT normalized, attempts FROM artist_requests ORDER BY normalized")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        rows
    })
}

#[test]
fn backfill_killed_while_requesting_publishes_each_name_once() {
    const LIMIT: usize = 1000;
    let catalog = data_set();
    let limit = LIMIT.to_string();
    let args = [
        "backfill",
        "--catalog",
        catalog.to_str().unwrap(),
        "--limit",
        &limit,
    ];
    // Kill the first run while it publishes (some names published, not all); a run that
    // got past its request phase before the kill is tried again in a fresh directory.
    let mut killed_at = None;
    let mut dir = PathBuf::new();
    for attempt in 0..5 {
        dir = temp_dir(&format!("backfill-requesting-{attempt}"));
        let mut first = encore(&dir, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(published) = backfill_published(&dir).filter(|n| *n > 0) {
                first.kill().unwrap();
                first.wait().unwrap();
                if published < LIMIT {
                    killed_at = Some(published);
                }
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the first backfill published nothing"
            );
            if first.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if killed_at.is_some() {
            break;
        }
    }
    let killed_at = killed_at.expect("no attempt was killed during its request phase");
    assert!(killed_at < LIMIT);

    let status = encore(&dir, &args).stdout(Stdio::null()).status().unwrap();
    assert!(status.success());

    let attempts = request_attempts(&dir);
    let catalog_artists = encore_standin::Catalog::load(&catalog).unwrap();
    let mut wanted: Vec<String> = Vec::new();
    for artist in catalog_artists.artists() {
        let name = normalize(&artist.name);
        if !wanted.contains(&name) {
            wanted.push(name);
        }
        if wanted.len() == LIMIT {
            break;
        }
    }
    wanted.sort();
    let finished: Vec<String> = attempts.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(finished, wanted, "every name of the list is ingested");
    let twice: Vec<&(String, i64)> = attempts.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        twice.is_empty(),
        "killed after {killed_at} names, these were ingested more than once: {twice:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_catalog_is_refused_before_anything_is_written() {
    let scratch = temp_dir("bad-catalog");
    let header =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/catalog.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
            + "\n";
    let good = catalog_row("Song", "Artist", "Album", "2020");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", Vec::new(), "no artists"),
        ("header-only.csv", header.clone().into_bytes(), "no artists"),
        (
            "fake.csv.gz",
            (header.clone() + &good).into_bytes(),
            "not gzip",
        ),
        (
            "nan.csv",
            (header.clone() + &good + &good.replace("0.6,5,", "NaN,5,").replace("tSong", "tSong2"))
                .into_bytes(),
            "line 3",
        ),
        (
            "inf.csv",
            (header.clone() + &good.replace(",120,", ",inf,")).into_bytes(),
            "line 2",
        ),
        (
            "types.csv",
            (header.clone()
                + &good
                + &good.replace(",50,", ",popular,").replace("tSong", "tSong3"))
                .into_bytes(),
            "line 3",
        ),
    ];
    for (name, content, says) in cases {
        let path = scratch.join(name);
        std::fs::write(&path, content).unwrap();
        let data = scratch.join(format!("data-{name}"));
        let output = encore(&data, &["backfill", "--catalog", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} was accepted");
        assert!(
            stderr.contains(name) && stderr.contains(says),
            "{name}: the error names the file and says {says:?}: {stderr}"
        );
        assert!(!data.exists(), "{name}: the data directory was created");
    }
    let data = scratch.join("data-dir");
    let output = encore(&data, &["backfill", "--catalog", scratch.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success(), "a directory was accepted");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a file"));
    assert!(!data.exists());
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn export_into_a_closed_pipe_exits_quietly() {
    let dir = temp_dir("export-pipe");
    let mut child = encore(&dir, &["export", "related"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before reading anything, as `head` does once it has enough.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn state_changing_routes_need_the_secret_and_json() {
    const SECRET: &str = "local-test-secret-0123456789";
    let dir = temp_dir("admin");
    let port = free_port();
    let _server = Running(
        encore(&dir, &["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("ENCORE_SKILL_SECRET", SECRET)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + SERVE_START;
    while reqwest::get(format!("{base}/")).await.is_err() {
        assert!(Instant::now() < deadline, "encore serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = reqwest::Client::new();
    let post = |path: &str, secret: Option<&str>, content_type: &str| {
        let mut request = client
            .post(format!("{base}{path}"))
            .header("content-type", content_type)
            .body("{}");
        if let Some(secret) = secret {
            request = request.header("X-Encore-Skill-Secret", secret);
        }
        request.send()
    };
    // What a page in the browser could send: no secret, a form's content type.
    let status = post("/similarity/run", None, "text/plain")
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = post("/similarity/run", None, "application/json")
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let status = post("/similarity/run", Some(SECRET), "text/plain")
        .await
        .unwrap()
        .status();
    assert_eq!(status, 415);
    let status = post("/skill", Some(SECRET), "text/plain")
        .await
        .unwrap()
        .status();
    assert_eq!(status, 415);
    // The status page is read-only: the secret, and no body or content type.
    let status_page = |secret: Option<&str>| {
        let mut request = client.get(format!("{base}/status"));
        if let Some(secret) = secret {
            request = request.header("X-Encore-Skill-Secret", secret);
        }
        request.send()
    };
    assert_eq!(status_page(None).await.unwrap().status(), 401);
    assert_eq!(status_page(Some(SECRET)).await.unwrap().status(), 200);
    // With both, the request reaches the job (which may fail on a fresh lake, or find a
    // run already in progress).
    let status = post("/similarity/run", Some(SECRET), "application/json")
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(matches!(status, 200 | 409 | 500), "{status}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_that_would_shrink_the_datamart_fails_and_can_be_forced() {
    let dir = temp_dir("shrink");
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/catalog.csv");
    let run = |args: &[&str]| {
        let output = encore(&dir, args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, stderr) = run(&["backfill", "--catalog", demo.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let (ok, stderr) = run(&["similarity", "run"]);
    assert!(ok, "{stderr}");
    let before = encore(&dir, &["export", "related"])
        .output()
        .unwrap()
        .stdout;

    // The lake loses its data; a small catalog is ingested again.
    std::fs::remove_dir_all(dir.join("lake")).unwrap();
    let header = std::fs::read_to_string(&demo)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
        + "\n";
    let small = dir.join("small.csv");
    std::fs::write(
        &small,
        header
            + &catalog_row("One", "Small One", "A1", "2020")
            + &catalog_row("Two", "Small Two", "A2", "2020")
            + &catalog_row("Three", "Small Three", "A3", "2020"),
    )
    .unwrap();
    let (ok, stderr) = run(&["backfill", "--catalog", small.to_str().unwrap()]);
    assert!(ok, "{stderr}");

    let (ok, stderr) = run(&["similarity", "run"]);
    assert!(!ok, "a shrinking run exits non-zero");
    assert!(stderr.contains("fewer than 90 %"), "{stderr}");
    let after = encore(&dir, &["export", "related"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(before, after, "the datamart was kept");

    let (ok, stderr) = run(&["similarity", "run", "--force"]);
    assert!(ok, "{stderr}");
    let forced = encore(&dir, &["export", "related"])
        .output()
        .unwrap()
        .stdout;
    assert_ne!(before, forced);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn no_secret_reaches_any_log() {
    const SKILL_SECRET: &str = "log-test-skill-secret-9f8e7d6c";
    // The stand-in's client secret is the Spotify secret of this run.
    let spotify_secret = encore_standin::Credentials::standin_default().client_secret;
    let dir = temp_dir("secrets");
    let port = free_port();
    let server = encore(&dir, &["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("ENCORE_SKILL_SECRET", SKILL_SECRET)
        .env("RUST_LOG", "trace")
        .stdout(std::fs::File::create(dir.join("serve.out")).unwrap())
        .stderr(std::fs::File::create(dir.join("serve.err")).unwrap())
        .spawn()
        .unwrap();
    let mut server = Some(server);
    // Stops the server however the test ends.
    struct Stop<'a>(&'a mut Option<Child>);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            if let Some(child) = self.0.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let stop = Stop(&mut server);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + SERVE_START;
    while reqwest::get(format!("{base}/")).await.is_err() {
        assert!(Instant::now() < deadline, "encore serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = reqwest::Client::new();
    let ask = |secret: &str, utterance: &str| {
        client
            .post(format!("{base}/skill"))
            .header("content-type", "application/json")
            .header("X-Encore-Skill-Secret", secret)
            .body(
                serde_json::json!({
                    "userRequest": {"utterance": utterance, "user": {"id": "u"}}
                })
                .to_string(),
            )
            .send()
    };
    // Right, wrong and nearly right secrets; an unknown artist, so ingest calls Spotify.
    assert_eq!(ask(SKILL_SECRET, "BTS").await.unwrap().status(), 200);
    assert_eq!(
        ask("wrong-secret-0000000000", "BTS")
            .await
            .unwrap()
            .status(),
        401
    );
    let near = format!("{SKILL_SECRET}x");
    assert_eq!(ask(&near, "TWICE").await.unwrap().status(), 401);
    assert_eq!(ask(SKILL_SECRET, "TWICE").await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Some(mut child) = stop.0.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let served = ["serve.out", "serve.err"].map(|f| std::fs::read(dir.join(f)).unwrap());
    let backfill = encore(
        &dir,
        &[
            "backfill",
            "--catalog",
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("demo/catalog.csv")
                .to_str()
                .unwrap(),
        ],
    )
    .env("RUST_LOG", "trace")
    .output()
    .unwrap();
    assert!(backfill.status.success());

    let [served_out, served_err] = served;
    let logs = [served_out, served_err, backfill.stdout, backfill.stderr]
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .join("\n");
    assert!(logs.len() > 10_000, "trace logging produced little: {logs}");
    for secret in [SKILL_SECRET, spotify_secret.as_str()] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
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
fn chat_runs_the_pipeline_until_the_request_is_answered() {
    let dir = temp_dir("chat-wait");
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/catalog.csv");
    let backfill = encore(&dir, &["backfill", "--catalog", demo.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(backfill.success());
    let chat = |args: &[&str]| {
        let output = encore(&dir, &[&["chat", "--text"], args].concat())
            .output()
            .unwrap();
        let said = String::from_utf8(output.stdout).unwrap();
        (
            output.status.code(),
            said,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    // A Korean name the backfill did not learn: looking it up, then BTS's card.
    let (code, said, err) = chat(&["방탄소년단"]);
    assert_eq!(code, Some(0), "{said}{err}");
    let looking = said.find("찾아보고 있어요").expect(&said);
    let card = said.find("▶ BTS").expect(&said);
    assert!(looking < card, "the immediate answer first: {said}");

    // A name no catalog has: looking it up, then not found.
    let (code, said, err) = chat(&["Zzyzx Unheard Band 42"]);
    assert_eq!(code, Some(3), "{said}{err}");
    assert!(said.contains("찾지 못했어요"), "{said}");
    // Asked again: not found at once, nothing looked up.
    let (code, said, _) = chat(&["Zzyzx Unheard Band 42", "--no-wait"]);
    assert_eq!(code, Some(3), "{said}");
    assert!(!said.contains("찾아보고 있어요"), "{said}");

    // Known: the card at once. Unknown with --no-wait: only the immediate answer.
    let (code, said, _) = chat(&["BTS"]);
    assert_eq!(code, Some(0), "{said}");
    let (code, said, _) = chat(&["TWICE Unplugged Zz", "--no-wait"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("찾아보고 있어요") && !said.contains('▶'),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
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

/// The daily refresh never delays a user: with 1,000 refresh requests queued, a user's
/// request with a callback is ingested first and answered through its callback within
/// Kakao's window, while the refreshes still wait (embedded stack, as `encore serve`
/// runs its ingest consumer).
#[tokio::test]
async fn a_user_request_goes_before_a_thousand_refreshes() {
    use encore_local::stack::{CatalogSource, Stack};
    use encore_messaging::{EventPublisher, OutgoingEvent, Queue};
    use encore_platform::config::Env;
    use std::sync::{Arc, Mutex};

    let dir = temp_dir("priority");
    let env = Env::from_pairs([]);
    let stack = Stack::open(&dir, &env).await.unwrap();
    let (_catalog, client) = stack.catalog(&env, &CatalogSource::Demo).await.unwrap();
    let hosts = encore_kakao::callback::CallbackHosts::parse("127.0.0.1").unwrap();
    let ingest = stack.ingest(client, hosts.clone());

    let day = encore_domain::service_date(chrono::Utc::now());
    let refreshes: Vec<OutgoingEvent> = (0..1_000)
        .map(|i| {
            let request = encore_similarity_service::refresh::refresh_request(
                &format!("refresh band {i}"),
                day,
            );
            OutgoingEvent::new(&request, encore_domain::events::SOURCE_OPS).unwrap()
        })
        .collect();
    for chunk in refreshes.chunks(100) {
        stack.bus.publish(chunk).await.unwrap();
    }
    assert_eq!(stack.refresh_queue.depth().await.unwrap(), 1_000);
    assert_eq!(stack.ingest_queue.depth().await.unwrap(), 0);

    // A callback receiver on loopback.
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/callback/{token}",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                axum::Json(serde_json::json!({"taskId": "t", "status": "SUCCESS"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callback/once", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let chat = stack.chat(encore_chat::ChatSettings {
        callback_hosts: hosts,
        ..encore_chat::ChatSettings::default()
    });
    let request: encore_kakao::SkillRequest = serde_json::from_value(serde_json::json!({
        "userRequest": {"utterance": "TWICE", "user": {"id": "u"}, "callbackUrl": callback_url},
        "action": {"params": {}}
    }))
    .unwrap();
    let asked = Instant::now();
    let answer = encore_chat::handle_skill(&request, &chat).await;
    assert_eq!(answer.kind, encore_chat::AnswerKind::Waiting);
    assert_eq!(
        stack.refresh_queue.depth().await.unwrap(),
        1_000,
        "the user's request went to the users' queue"
    );
    while received.lock().unwrap().is_empty() {
        assert!(
            asked.elapsed() < encore_kakao::callback::CALLBACK_VALIDITY,
            "no answer within Kakao's callback window"
        );
        stack
            .ingest_step(&ingest, Duration::from_millis(100))
            .await
            .unwrap();
    }
    let answered = asked.elapsed();
    let waiting = stack.refresh_queue.depth().await.unwrap();
    let card = received.lock().unwrap()[0].to_string();
    assert!(card.contains("TWICE"), "{card}");
    assert!(
        waiting >= 1_000 - 10,
        "the user waited behind refreshes: {waiting} of 1000 left after {answered:?}"
    );
    println!("answered after {answered:?} with {waiting} refresh requests still queued");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_job_killed_at_any_moment_leaves_one_whole_snapshot() {
    let dir = temp_dir("killed-job");
    let catalog = data_set();
    let catalog = catalog.to_str().unwrap();
    let succeed = |args: &[&str]| {
        let output = encore(&dir, args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    // A first snapshot, then as many artists again: the next run changes most lists.
    succeed(&["backfill", "--catalog", catalog, "--limit", "600"]);
    succeed(&["similarity", "run"]);
    let before = succeed(&["export", "related"]);
    succeed(&["backfill", "--catalog", catalog, "--limit", "1200"]);

    let mut interrupted = 0;
    let mut seen = Vec::new();
    for delay in [100, 300, 600, 1000, 1500, 2500] {
        let mut run = encore(&dir, &["similarity", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if run.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        run.kill().unwrap(); // SIGKILL: no destructor, no rollback of its own
        run.wait().unwrap();
        seen.push((delay, succeed(&["export", "related"])));
    }
    // `encore serve` killed while it runs the job `POST /similarity/run` asked for.
    for delay in [300, 1000] {
        let port = free_port();
        let mut serve = encore(&dir, &["serve", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + SERVE_START;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "encore serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut request = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::Write::write_all(
            &mut request,
            b"POST /similarity/run HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        serve.kill().unwrap();
        serve.wait().unwrap();
        seen.push((delay, succeed(&["export", "related"])));
    }
    succeed(&["similarity", "run"]);
    let after = succeed(&["export", "related"]);
    assert_ne!(before, after, "the second run changed the datamart");
    assert!(interrupted > 0, "no kill landed during a run");
    for (delay, export) in seen {
        assert!(
            export == before || export == after,
            "killed after {delay} ms, the datamart is neither snapshot ({} bytes)",
            export.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
