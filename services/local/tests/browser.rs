//! The chat page in a real browser: Debian's headless Chromium, driven over WebDriver by
//! its matching `chromedriver` (installed by `infra/local/browser.sh` when absent), against
//! a real axum server that merges `page::router()` with a test `/skill` route answering
//! fixed Kakao JSON. The browser test also saves a screenshot (`docs/chat-page.png` when
//! `ENCORE_UPDATE_SCREENSHOT=1`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use encore_local::page;
use fantoccini::key::Key;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest any single wait of the test may take.
const WAIT: Duration = Duration::from_secs(30);
/// The longest the whole browser session may take.
const SESSION_LIMIT: Duration = Duration::from_secs(180);
/// The browser window, and so the screenshot's size.
const WINDOW: (u32, u32) = (900, 1200);
const SECRET_HEADER: &str = "x-encore-skill-secret";
const CHIP: &str = "SEVENTEEN";
/// The artist whose answer is a listCard alone (not in a carousel).
const STANDALONE: &str = "Stray Kids";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_page_renders_kakao_answers_in_headless_chromium() {
    let started = Instant::now();
    let browser = install_browser().unwrap_or_else(|e| panic!("{e:#}"));
    let server = SkillServer::start()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let scratch = Scratch::new().unwrap_or_else(|e| panic!("{e:#}"));
    let driver = ChromeDriver::start(
        &browser.chromedriver,
        &scratch.path.join("chromedriver.log"),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    let client = open_session(&driver, &browser.chromium, &scratch.path.join("profile"))
        .await
        .unwrap_or_else(|e| panic!("{e:#}; chromedriver's log: {}", driver.log.display()));

    let outcome = tokio::time::timeout(SESSION_LIMIT, converse(&client, &server)).await;
    let closed = client.close().await;
    drop(driver);

    match outcome {
        Err(_) => panic!("the browser session took longer than {SESSION_LIMIT:?}"),
        Ok(Err(e)) => panic!("{e:#}"),
        Ok(Ok(())) => {}
    }
    closed.expect("closing the WebDriver session (and with it Chromium)");
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn page_is_served_with_its_types_and_a_same_origin_policy() {
    let server = SkillServer::start()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/chat.css", "text/css; charset=utf-8"),
        ("/assets/chat.js", "text/javascript; charset=utf-8"),
        ("/assets/avatar.svg", "image/svg+xml"),
    ] {
        let (status, headers, body) = http_get(server.addr, path)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(status, 200, "GET {path}");
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some(content_type),
            "GET {path}"
        );
        assert_eq!(
            headers.get("content-security-policy").map(String::as_str),
            Some(page::CONTENT_SECURITY_POLICY),
            "GET {path}"
        );
        assert_eq!(
            headers.get("x-content-type-options").map(String::as_str),
            Some("nosniff")
        );
        assert!(!body.is_empty(), "GET {path} has a body");
    }
    let (_, _, html) = http_get(server.addr, "/")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        html.contains(r#"<meta charset="utf-8">"#),
        "the page declares its charset"
    );
    for needle in ["http://", "https://", "<style", "style=", "onclick"] {
        assert!(
            !html.contains(needle),
            "the page has no external or inline resource: {needle}"
        );
    }
    let (status, _, _) = http_get(server.addr, "/assets/missing.js")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(status, 404);
}

/// The whole conversation, step by step; every wait is bounded by [`WAIT`].
async fn converse(client: &Client, server: &SkillServer) -> anyhow::Result<()> {
    client
        .goto(&server.base)
        .await
        .context("opening the chat page")?;
    wait_for(client, "#send", "the chat page").await?;

    // 1. An artist's name, sent with the button.
    type_into(client, "#utterance", "BTS").await?;
    click(client, "#send").await?;
    wait_for(
        client,
        r#"[data-answer="1"] .carousel .list-card"#,
        "the carousel of the answer to BTS",
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="1"] .bubble.text"#,
        &["BTS와 비슷한 아티스트예요"],
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="1"] .carousel .card-header"#,
        &["BTS", "SEVENTEEN"],
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="1"] .carousel .list-title"#,
        &[
            "Dynamite",
            "Butter",
            "Boy With Luv",
            "Very Nice",
            "Don't Wanna Cry",
            "HOT",
        ],
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="1"] .list-description"#,
        &[
            "BTS Collection 2016",
            "Butter (Single)",
            "BTS Collection 2018",
            "Love & Letter",
            "Al1",
            "Face the Sun",
        ],
    )
    .await?;
    let rows = client
        .find_all(Locator::Css(r#"[data-answer="1"] a.list-row"#))
        .await?;
    ensure!(
        rows.len() == 6,
        "every track row is a link, found {}",
        rows.len()
    );
    for row in &rows {
        let href = row.attr("href").await?.unwrap_or_default();
        ensure!(
            href.starts_with("https://open.spotify.com/track/"),
            "a row links to Spotify: {href}"
        );
        ensure!(
            row.attr("target").await?.as_deref() == Some("_blank"),
            "a row opens a new tab"
        );
    }
    let youtube = client
        .find_all(Locator::Css(r#"[data-answer="1"] a.card-button"#))
        .await?;
    ensure!(
        youtube.len() == 2,
        "one YouTube button per card, found {}",
        youtube.len()
    );
    for button in &youtube {
        let href = button.attr("href").await?.unwrap_or_default();
        ensure!(
            href.starts_with("https://www.youtube.com/results?search_query="),
            "{href}"
        );
        ensure!(
            button.attr("target").await?.as_deref() == Some("_blank"),
            "YouTube opens a new tab"
        );
    }
    ensure_texts(client, ".quick-replies .chip", &[CHIP, STANDALONE]).await?;
    let first = server.request(0)?;
    ensure_kakao_shape(&first.payload, "BTS")?;
    ensure!(
        first.secret.is_none(),
        "no secret header unless the user sets one"
    );

    // 2. A quick reply asks again with its messageText.
    let chip = client
        .find(Locator::XPath(&format!(
            "//button[contains(@class,'chip') and normalize-space()='{CHIP}']"
        )))
        .await
        .context("the quick reply chip")?;
    chip.click().await.context("tapping the quick reply")?;
    wait_for(
        client,
        r#"[data-answer="2"] .basic-card"#,
        "the answer to the quick reply",
    )
    .await?;
    ensure_texts(client, ".turn.user .bubble", &["BTS", CHIP]).await?;
    ensure_texts(
        client,
        r#"[data-answer="2"] .bubble.text"#,
        &["SEVENTEEN과 비슷한 아티스트예요"],
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="2"] .carousel .card-title"#,
        &[STANDALONE, "TWICE"],
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="2"] .carousel .card-button"#,
        &["물어보기", "YouTube", "물어보기", "YouTube"],
    )
    .await?;
    ensure!(
        client
            .find_all(Locator::Css(r#".quick-replies .chip"#))
            .await?
            .len()
            == 1,
        "the old quick replies are gone and the new answer's one is shown"
    );
    let second = server.request(1)?;
    ensure_kakao_shape(&second.payload, CHIP)?;
    ensure!(
        first.payload.pointer("/userRequest/user/id")
            == second.payload.pointer("/userRequest/user/id"),
        "the user id stays the same across messages (localStorage)"
    );

    // The pictures are loaded (same origin, allowed by the policy) before the screenshot.
    wait_until(
        client,
        "every picture to load",
        "return [...document.images].every(i => i.complete && i.naturalWidth > 0);",
    )
    .await?;
    client
        .execute(
            "document.getElementById('messages').scrollTop = 1e9;",
            vec![],
        )
        .await?;
    save_screenshot(client).await?;

    // 3. Enter sends too; an HTTP error shows an error bubble with the status.
    type_into(
        client,
        "#utterance",
        &format!("500{}", char::from(Key::Enter)),
    )
    .await?;
    wait_for(
        client,
        r#"[data-answer="3"] .bubble.error"#,
        "the error bubble",
    )
    .await?;
    ensure_texts(client, r#"[data-answer="3"] .bubble.error"#, &["HTTP 500"]).await?;

    // 4. A callback answer shows the waiting text.
    type_into(client, "#utterance", "NewJeans").await?;
    click(client, "#send").await?;
    wait_for(
        client,
        r#"[data-answer="4"] .bubble.waiting"#,
        "the callback's waiting text",
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="4"] .bubble.waiting"#,
        &["찾는 중…"],
    )
    .await?;

    // 5. Markup from the user or the server is shown as text.
    let markup = "<b>IU</b><img src=x>";
    type_into(client, "#utterance", markup).await?;
    click(client, "#send").await?;
    wait_for(
        client,
        r#"[data-answer="5"] .bubble.text"#,
        "the answer echoing markup",
    )
    .await?;
    ensure_texts(client, r#"[data-answer="5"] .bubble.text"#, &[markup]).await?;
    ensure!(
        client
            .find_all(Locator::Css(
                ".messages b, .messages img:not(.avatar):not(.list-image):not(.thumb)"
            ))
            .await?
            .is_empty(),
        "no element was made from the text"
    );

    // 6. A secret typed into the settings goes with the next request.
    click(client, "#settings-toggle").await?;
    type_into(client, "#secret", "s3cret").await?;
    click(client, r#"#settings button[type="submit"]"#).await?;
    type_into(client, "#utterance", STANDALONE).await?;
    click(client, "#send").await?;
    wait_for(
        client,
        r#"[data-answer="6"] .list-card"#,
        "the answer sent with the secret",
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="6"] .line > .list-card .card-header"#,
        &[STANDALONE],
    )
    .await?;
    ensure_texts(
        client,
        r#"[data-answer="6"] .list-title"#,
        &["God's Menu", "MANIAC", "S-Class"],
    )
    .await?;
    let last = server.request(5)?;
    ensure!(
        last.secret.as_deref() == Some("s3cret"),
        "the secret header is sent once set"
    );

    // Nothing was fetched from another origin.
    let foreign = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)
               .filter(n => !n.startsWith(location.origin));",
            vec![],
        )
        .await?;
    ensure!(
        foreign == json!([]),
        "the page fetched from another origin: {foreign}"
    );
    Ok(())
}

/// Checks that a request the page sent has the shape of a Kakao skill payload.
fn ensure_kakao_shape(payload: &Value, utterance: &str) -> anyhow::Result<()> {
    let at = |pointer: &str| {
        payload
            .pointer(pointer)
            .ok_or_else(|| anyhow!("no {pointer} in {payload}"))
    };
    ensure!(
        at("/userRequest/utterance")? == utterance,
        "utterance in {payload}"
    );
    ensure!(
        at("/userRequest/user/type")? == "botUserKey",
        "user type in {payload}"
    );
    let id = at("/userRequest/user/id")?.as_str().unwrap_or_default();
    ensure!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "random user id: {id}"
    );
    ensure!(
        at("/userRequest/user/properties")?.is_object(),
        "user properties in {payload}"
    );
    ensure!(
        at("/userRequest/timezone")? == "Asia/Seoul",
        "timezone in {payload}"
    );
    ensure!(at("/userRequest/lang")?.is_string(), "lang in {payload}");
    ensure!(
        at("/userRequest/params")?.is_object(),
        "params in {payload}"
    );
    ensure!(
        at("/userRequest/block/id")?.is_string(),
        "block in {payload}"
    );
    ensure!(at("/intent/name")?.is_string(), "intent in {payload}");
    ensure!(at("/bot/id")?.is_string(), "bot in {payload}");
    ensure!(
        at("/action/params")?.is_object(),
        "action params in {payload}"
    );
    ensure!(
        at("/action/detailParams")?.is_object(),
        "action detailParams in {payload}"
    );
    ensure!(at("/contexts")?.is_array(), "contexts in {payload}");
    Ok(())
}

// ---- browser steps ---------------------------------------------------------------------

async fn wait_for(client: &Client, css: &str, what: &str) -> anyhow::Result<()> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting up to {WAIT:?} for {what} ({css})"))?;
    Ok(())
}

/// Polls `script` (which returns a boolean) until it is true, for at most [`WAIT`].
async fn wait_until(client: &Client, what: &str, script: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if client.execute(script, vec![]).await? == json!(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("waited {WAIT:?} for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn type_into(client: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let field = client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("finding {css}"))?;
    field
        .send_keys(text)
        .await
        .with_context(|| format!("typing into {css}"))?;
    Ok(())
}

async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    let target = client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("finding {css}"))?;
    target
        .click()
        .await
        .with_context(|| format!("clicking {css}"))?;
    Ok(())
}

/// Checks that the elements matching `css` show, in order, texts containing `expected`.
async fn ensure_texts(client: &Client, css: &str, expected: &[&str]) -> anyhow::Result<()> {
    let mut shown = Vec::new();
    for element in client.find_all(Locator::Css(css)).await? {
        shown.push(element.text().await?);
    }
    ensure!(
        shown.len() == expected.len()
            && shown
                .iter()
                .zip(expected)
                .all(|(text, want)| text.contains(want)),
        "{css}: expected texts containing {expected:?}, the page shows {shown:?}"
    );
    Ok(())
}

/// Saves the screenshot in the test's scratch directory, or as `docs/chat-page.png` (the
/// README's picture) when `ENCORE_UPDATE_SCREENSHOT=1`, so a plain test run leaves the
/// work tree untouched.
async fn save_screenshot(client: &Client) -> anyhow::Result<()> {
    let png = client.screenshot().await.context("taking the screenshot")?;
    let docs = if std::env::var_os("ENCORE_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    std::fs::create_dir_all(&docs).with_context(|| format!("creating {}", docs.display()))?;
    let path = docs.join("chat-page.png");
    std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

// ---- the browser -----------------------------------------------------------------------

struct Browser {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// Runs `infra/local/browser.sh`, which installs Chromium, chromedriver and the CJK fonts
/// when absent and prints the two programs' paths.
fn install_browser() -> anyhow::Result<Browser> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/local/browser.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    ensure!(
        output.status.success(),
        "{} failed ({}): Chromium, chromedriver and the Noto CJK and emoji fonts are needed (apt-get, as root)",
        script.display(),
        output.status
    );
    let stdout = String::from_utf8(output.stdout)?;
    let mut paths = stdout.lines().map(PathBuf::from);
    match (paths.next(), paths.next()) {
        (Some(chromium), Some(chromedriver)) => Ok(Browser {
            chromium,
            chromedriver,
        }),
        _ => bail!("{} printed no browser paths: {stdout:?}", script.display()),
    }
}

/// A chromedriver process in a process group of its own, with the Chromium it starts;
/// dropping it kills the group, so no browser outlives the test.
struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ChromeDriver {
    fn start(program: &Path, log: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(program)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let stdout = child.stdout.take().context("chromedriver's stdout")?;
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
            }
        });
        let driver = |port| ChromeDriver {
            child,
            port,
            log: log.to_path_buf(),
        };
        match port_rx.recv_timeout(WAIT) {
            Ok(port) => Ok(driver(port)),
            Err(_) => {
                drop(driver(0));
                bail!(
                    "chromedriver did not report its port within {WAIT:?}; see {}",
                    log.display()
                )
            }
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

async fn open_session(
    driver: &ChromeDriver,
    chromium: &Path,
    profile: &Path,
) -> anyhow::Result<Client> {
    let (width, height) = WINDOW;
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--hide-scrollbars".to_owned(),
        "--force-device-scale-factor=1".to_owned(),
        "--lang=ko-KR".to_owned(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": chromium, "args": args }),
    );
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let url = format!("http://127.0.0.1:{}", driver.port);
    let client = tokio::time::timeout(WAIT, builder.connect(&url))
        .await
        .map_err(|_| anyhow!("Chromium did not start within {WAIT:?}"))?
        .context("starting a Chromium session through chromedriver")?;
    // The window includes the (invisible) browser frame: size it so the viewport is WINDOW.
    let frame = client
        .execute(
            "return [outerWidth - innerWidth, outerHeight - innerHeight];",
            vec![],
        )
        .await?;
    let (dx, dy) =
        serde_json::from_value::<(u32, u32)>(frame).context("the browser frame's size")?;
    client
        .set_window_size(width + dx, height + dy)
        .await
        .context("sizing the window")?;
    Ok(client)
}

/// A fresh directory for this run's browser profile and driver log, removed afterwards.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> anyhow::Result<Self> {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("profile"))
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

// ---- the server --------------------------------------------------------------------------

/// One request the page sent to `/skill`.
#[derive(Clone)]
struct SkillRequest {
    payload: Value,
    secret: Option<String>,
}

#[derive(Clone)]
struct SkillState {
    base: String,
    seen: Arc<Mutex<Vec<SkillRequest>>>,
}

/// A real axum server on 127.0.0.1: the chat page plus a `/skill` that answers fixed Kakao
/// JSON and records what it was sent, and `/art/…` pictures for the answers.
struct SkillServer {
    addr: std::net::SocketAddr,
    base: String,
    seen: Arc<Mutex<Vec<SkillRequest>>>,
}

impl SkillServer {
    async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = SkillState {
            base: base.clone(),
            seen: Arc::clone(&seen),
        };
        let app = page::router().merge(
            Router::new()
                .route("/skill", post(skill))
                .route("/art/{name}", get(art))
                .with_state(state),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(SkillServer { addr, base, seen })
    }

    fn request(&self, index: usize) -> anyhow::Result<SkillRequest> {
        let seen = self
            .seen
            .lock()
            .map_err(|_| anyhow!("the request log is poisoned"))?;
        seen.get(index).cloned().ok_or_else(|| {
            anyhow!(
                "the page sent {} requests to /skill, expected at least {}",
                seen.len(),
                index + 1
            )
        })
    }
}

async fn skill(
    State(state): State<SkillState>,
    headers: HeaderMap,
    Json(payload): Json<Value>,
) -> Response {
    let secret = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let utterance = payload
        .pointer("/userRequest/utterance")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Ok(mut seen) = state.seen.lock() {
        seen.push(SkillRequest { payload, secret });
    }
    let art = |name: &str| format!("{}/art/{name}", state.base);
    match utterance.as_str() {
        "BTS" => Json(artist_answer(&art)).into_response(),
        CHIP => Json(chip_answer(&art)).into_response(),
        STANDALONE => Json(standalone_answer(&art)).into_response(),
        "500" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "NewJeans" => Json(json!({ "version": "2.0", "useCallback": true })).into_response(),
        other => Json(json!({
            "version": "2.0",
            "template": { "outputs": [{ "simpleText": { "text": format!("아직 모르는 이름이에요:\n{other}") } }] }
        }))
        .into_response(),
    }
}

fn track(id: &str, title: &str, album: &str, picture: String) -> Value {
    json!({
        "title": title,
        "description": album,
        "imageUrl": picture,
        "link": { "web": format!("https://open.spotify.com/track/{id}") }
    })
}

fn youtube(artist: &str) -> Value {
    json!({
        "label": "YouTube",
        "action": "webLink",
        "webLinkUrl": format!("https://www.youtube.com/results?search_query={}", artist.replace(' ', "+"))
    })
}

/// The answer to "BTS": a header, a carousel of two listCards of three tracks, quick replies.
fn artist_answer(art: &dyn Fn(&str) -> String) -> Value {
    json!({
        "version": "2.0",
        "template": {
            "outputs": [
                { "simpleText": { "text": "BTS와 비슷한 아티스트예요 🎧\n곡을 누르면 Spotify에서 열려요." } },
                { "carousel": { "type": "listCard", "items": [
                    {
                        "header": { "title": "BTS" },
                        "items": [
                            track("V1j0mFKXcmR4U8H13s5FuY", "Dynamite", "BTS Collection 2016", art("dynamite")),
                            track("H4dB58Zhsw53OI8RNazPXF", "Butter", "Butter (Single)", art("butter")),
                            track("OkONKfUZuvGsbZ9WKSRnlM", "Boy With Luv", "BTS Collection 2018", art("luv")),
                        ],
                        "buttons": [youtube("BTS")]
                    },
                    {
                        "header": { "title": "SEVENTEEN" },
                        "items": [
                            track("Zq3mX8rYpL2aB4cD5eF6gH", "Very Nice", "Love & Letter", art("nice")),
                            track("Kk9dE2fG3hJ4kL5mN6pQ7r", "Don't Wanna Cry", "Al1", art("cry")),
                            track("Tt1uV2wX3yZ4aB5cD6eF7g", "HOT", "Face the Sun", art("hot")),
                        ],
                        "buttons": [youtube("SEVENTEEN")]
                    }
                ] } }
            ],
            "quickReplies": [
                { "label": CHIP, "action": "message", "messageText": CHIP },
                { "label": STANDALONE, "action": "message", "messageText": STANDALONE }
            ]
        }
    })
}

/// The answer to the quick reply: a header and a carousel of basicCards.
fn chip_answer(art: &dyn Fn(&str) -> String) -> Value {
    let basic = |name: &str, picture: &str, description: &str| {
        json!({
            "title": name,
            "description": description,
            "thumbnail": { "imageUrl": art(picture), "altText": name },
            "buttons": [
                { "label": "물어보기", "action": "message", "messageText": name },
                youtube(name)
            ]
        })
    };
    json!({
        "version": "2.0",
        "template": {
            "outputs": [
                { "simpleText": { "text": "SEVENTEEN과 비슷한 아티스트예요" } },
                { "carousel": { "type": "basicCard", "items": [
                    basic(STANDALONE, "skz", "비슷한 아티스트 · 거리 0.41"),
                    basic("TWICE", "twice", "비슷한 아티스트 · 거리 0.52")
                ] } }
            ],
            "quickReplies": [{ "label": "BTS", "action": "message", "messageText": "BTS" }]
        }
    })
}

/// The answer to [`STANDALONE`]: a header and a listCard alone.
fn standalone_answer(art: &dyn Fn(&str) -> String) -> Value {
    json!({
        "version": "2.0",
        "template": {
            "outputs": [
                { "simpleText": { "text": "Stray Kids의 인기 곡이에요" } },
                { "listCard": {
                    "header": { "title": STANDALONE },
                    "items": [
                        track("Qw1eR2tY3uI4oP5aS6dF7g", "God's Menu", "GO生", art("menu")),
                        track("Zx1cV2bN3mA4sD5fG6hJ7k", "MANIAC", "ODDINARY", art("maniac")),
                        track("Lp1oK2iJ3uH4yG5tF6rD7e", "S-Class", "★★★★★ (5-STAR)", art("class")),
                    ],
                    "buttons": [youtube(STANDALONE)]
                } }
            ]
        }
    })
}

/// A small square picture, its colours derived from its name (album covers and thumbnails).
async fn art(UrlPath(name): UrlPath<String>) -> impl IntoResponse {
    let hue = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360;
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl({hue},70%,62%)"/><stop offset="1" stop-color="hsl({},65%,42%)"/></linearGradient></defs><rect width="120" height="120" fill="url(#g)"/><circle cx="60" cy="60" r="30" fill="none" stroke="rgba(255,255,255,.55)" stroke-width="6"/><circle cx="60" cy="60" r="6" fill="rgba(255,255,255,.8)"/></svg>"##,
        (hue + 40) % 360
    );
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg)
}

/// A plain HTTP/1.1 GET: status, headers (lower-case names) and body.
async fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
) -> anyhow::Result<(u16, HashMap<String, String>, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let (head, body) = raw.split_once("\r\n\r\n").context("an HTTP response")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .context("a status line")?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok((status, headers, body.to_owned()))
}
