//! `encore bench chat [SECONDS] [CONNECTIONS]`: load benchmark of the skill endpoint, side
//! by side with a trivial axum handler.
//!
//! Seeds a SQLite store (in a temporary directory) with a few hundred artists (related
//! artists, top tracks and a latest release each), starts the real skill server and a
//! trivial axum `POST /skill` handler that returns a static body of the same size as a real
//! answer, then drives each with `wrk` (a second process, `apt-get install -y wrk`) cycling
//! POST bodies for the known artists, and prints throughput and p50/p99 latency of both.
//! Defaults: 5 s, 64 connections.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::http::header;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use chrono::Utc;
use clap::Args;
use encore_chat::server::{serve, SKILL_PATH};
use encore_chat::{Chat, ChatSettings, SecretGuard, SkillEndpoint, SkillSecret, Stores};
use encore_domain::release::{AlbumType, Release, ReleaseDate};
use encore_domain::{
    Artist, ArtistId, RelatedArtist, RelatedSnapshot, Track, TrackId, TOP_TRACKS_PER_ARTIST,
};
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_store::sqlite::SqliteStore;
use encore_store::{ArtistStore, RelatedStore, TopTracksCache};
use serde_json::json;
use tokio::net::TcpListener;

const ARTISTS: usize = 300;
const RELATED_PER_ARTIST: usize = 10;
/// Distinct request bodies wrk cycles through.
const BODIES: usize = 100;
const SECRET: &str = "bench-secret-0123456789";
const WRK_THREADS: &str = "2";

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// `encore bench chat`'s arguments.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Seconds of load on each server.
    #[arg(default_value_t = 5)]
    pub seconds: u32,
    /// wrk's connections.
    #[arg(default_value_t = 64)]
    pub connections: u32,
}

/// One wrk run's figures.
struct Figures {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: String,
}

/// Seeds the store, starts both servers, loads each with wrk and prints the figures.
pub async fn run(args: ChatArgs) -> anyhow::Result<()> {
    measure(args.seconds, args.connections)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

async fn measure(seconds: u32, connections: u32) -> BenchResult<()> {
    let dir = std::env::temp_dir().join(format!("encore-chat-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(dir.join("encore.db")).await?);
    let names = seed(&store).await?;
    let chat = Chat::new(
        Stores::shared(store, Arc::new(EmbeddedBus::new())),
        ChatSettings::default(),
    );
    let endpoint = Arc::new(SkillEndpoint::new(
        chat,
        SecretGuard::Required(SkillSecret::new(SECRET)?),
    ));

    let skill_listener = TcpListener::bind("127.0.0.1:0").await?;
    let skill_url = format!("http://{}{SKILL_PATH}", skill_listener.local_addr()?);
    tokio::spawn(serve(skill_listener, endpoint.clone()));

    // The trivial handler answers with a real answer's bytes: same size, no work.
    let bodies: Vec<String> = names
        .iter()
        .take(BODIES)
        .map(|name| request_body(name))
        .collect();
    let sample = encore_chat::handle_http(
        &endpoint,
        &secret_headers(),
        encore_chat::RawBody::Complete(bodies[0].as_bytes()),
    )
    .await;
    let static_body = sample.body.clone();
    let trivial_listener = TcpListener::bind("127.0.0.1:0").await?;
    let trivial_url = format!("http://{}{SKILL_PATH}", trivial_listener.local_addr()?);
    tokio::spawn(serve_static(trivial_listener, static_body.clone()));

    let script = write_script(&dir, &bodies)?;

    println!(
        "{ARTISTS} artists, {RELATED_PER_ARTIST} related, {TOP_TRACKS_PER_ARTIST} tracks and a release each; \
         answer {} bytes; wrk -t{WRK_THREADS} -c{connections} -d{seconds}s over {} bodies",
        static_body.len(),
        bodies.len()
    );
    // Warm both (the skill server's cache fills on first sight of each artist).
    wrk(&script, &trivial_url, 1, connections)?;
    wrk(&script, &skill_url, 1, connections)?;
    let trivial = wrk(&script, &trivial_url, seconds, connections)?;
    let skill = wrk(&script, &skill_url, seconds, connections)?;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{:<22} {:>12} {:>10} {:>10}  errors",
        "server", "requests/s", "p50 ms", "p99 ms"
    );
    for (name, f) in [
        ("trivial axum handler", &trivial),
        ("encore skill server", &skill),
    ] {
        println!(
            "{name:<22} {:>12.0} {:>10.3} {:>10.3}  {}",
            f.requests_per_sec, f.p50_ms, f.p99_ms, f.errors
        );
    }
    println!(
        "skill/trivial throughput: {:.2} (target >= 0.5); skill p99 {:.3} ms (target < 10 ms)",
        skill.requests_per_sec / trivial.requests_per_sec,
        skill.p99_ms
    );
    Ok(())
}

/// Seeds the artists; returns their names.
async fn seed(store: &SqliteStore) -> BenchResult<Vec<String>> {
    let now = Utc::now();
    let id =
        |i: usize| ArtistId::try_from(format!("{i:0>22}")).expect("22 digits are an artist id");
    let mut names = Vec::with_capacity(ARTISTS);
    let mut related = Vec::with_capacity(ARTISTS * RELATED_PER_ARTIST);
    for i in 0..ARTISTS {
        let name = if i % 3 == 0 {
            format!("가수 {i}")
        } else {
            format!("Bench Artist {i}")
        };
        let artist = Artist {
            id: id(i),
            name: name.clone(),
            popularity: Some(50),
            followers: None,
            genres: Vec::new(),
            image_url: Some(format!("https://i.scdn.co/image/{}", id(i))),
            spotify_url: Some(format!("https://open.spotify.com/artist/{}", id(i))),
        };
        store.upsert_artist(&artist).await?;
        let tracks: Vec<Track> = (1..=TOP_TRACKS_PER_ARTIST)
            .map(|rank| Track {
                id: TrackId::try_from(format!("{}{rank:02}", id(i)))
                    .expect("24 digits are a track id"),
                name: format!("{name} — track number {rank}"),
                artist_id: id(i),
                rank,
                album_name: Some(format!("Album of {name}")),
                image_url: Some(format!("https://i.scdn.co/image/album-{i}-{rank}")),
                popularity: Some(60),
                duration_ms: Some(210_000),
                spotify_url: Some(format!("https://open.spotify.com/track/{}{rank:02}", id(i))),
                features_source: None,
            })
            .collect();
        store.put_top_tracks(&id(i), &tracks, now).await?;
        let latest = Release {
            id: format!("{i:0>21}a"),
            name: format!("{name} — newest album"),
            album_type: if i % 2 == 0 {
                AlbumType::Album
            } else {
                AlbumType::Single
            },
            release_date: ReleaseDate::Month(2020 + (i % 7) as i32, (i % 12) as u32 + 1),
            image_url: Some(format!("https://i.scdn.co/image/cover-{i}")),
            spotify_url: Some(format!("https://open.spotify.com/album/{i:0>21}a")),
            primary_artist: true,
            total_tracks: Some(TOP_TRACKS_PER_ARTIST),
        };
        store.put_latest_releases(&id(i), &[latest], now).await?;
        related.extend((1..=RELATED_PER_ARTIST).map(|rank| RelatedArtist {
            artist_id: id(i),
            rank: rank as u32,
            related_id: id((i + rank * 7) % ARTISTS),
            distance: rank as f64 / 10.0,
            snapshot: "2026-11-25".into(),
        }));
        names.push(name);
    }
    store
        .replace_related(&RelatedSnapshot::from_rows(&related)?)
        .await?;
    Ok(names)
}

fn request_body(name: &str) -> String {
    json!({
        "intent": {"id": "b1", "name": "artist"},
        "userRequest": {"timezone": "Asia/Seoul", "params": {"surface": "Kakaotalk.plusfriend"},
            "block": {"id": "b1", "name": "artist"}, "utterance": name, "lang": "ko",
            "user": {"id": "a3f9c1d2e4b5a6978877665544332211aabbccddeeff00112233445566778899", "type": "botUserKey",
                "properties": {"plusfriendUserKey": "Xy12AbCd", "isFriend": true}}},
        "bot": {"id": "6400aa11bb22cc33dd44ee55!", "name": "encore"},
        "action": {"id": "s1", "name": "chat", "params": {"artist": name},
            "detailParams": {"artist": {"origin": name, "value": name, "groupName": ""}}, "clientExtra": null},
        "contexts": []
    })
    .to_string()
}

fn secret_headers() -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        encore_chat::secret::SECRET_HEADER,
        axum::http::HeaderValue::from_static(SECRET),
    );
    headers
}

async fn serve_static(listener: TcpListener, body: Bytes) -> std::io::Result<()> {
    let app = Router::new().route(
        SKILL_PATH,
        post(move || {
            let body = body.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, encore_chat::http::JSON_CONTENT_TYPE)],
                    body,
                )
            }
        }),
    );
    axum::serve(listener, app).await
}

/// A wrk script cycling through `bodies` (pre-formatted requests, so wrk's own cost is
/// the same for both servers).
fn write_script(dir: &Path, bodies: &[String]) -> BenchResult<PathBuf> {
    let mut lua = String::from("local bodies = {\n");
    for body in bodies {
        lua.push_str(&format!("[==[{body}]==],\n"));
    }
    lua.push_str(&format!(
        "}}\nlocal requests = {{}}\nlocal n = 0\n\
         init = function(args)\n  for i, b in ipairs(bodies) do\n    requests[i] = wrk.format(\"POST\", nil, \
         {{[\"Content-Type\"] = \"application/json;charset=UTF-8\", [\"X-Encore-Skill-Secret\"] = \"{SECRET}\"}}, b)\n  end\nend\n\
         request = function()\n  n = n % #requests + 1\n  return requests[n]\nend\n"
    ));
    let path = dir.join("skill.lua");
    std::fs::write(&path, lua)?;
    Ok(path)
}

/// Runs wrk against `url` and reads its figures.
fn wrk(script: &Path, url: &str, seconds: u32, connections: u32) -> BenchResult<Figures> {
    let output = Command::new("wrk")
        .args([
            "-t",
            WRK_THREADS,
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| {
            format!("running wrk failed ({e}); install it with `apt-get install -y wrk`")
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let latency = |pct: &str| -> BenchResult<f64> {
        let raw = field(pct).ok_or_else(|| format!("no {pct} latency in wrk output:\n{text}"))?;
        parse_duration_ms(raw).ok_or_else(|| format!("unreadable latency {raw:?}").into())
    };
    let requests_per_sec: f64 = field("Requests/sec:")
        .ok_or_else(|| format!("no Requests/sec in wrk output:\n{text}"))?
        .parse()?;
    let errors = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Non-2xx") || l.starts_with("Socket errors"))
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Figures {
        requests_per_sec,
        p50_ms: latency("50%")?,
        p99_ms: latency("99%")?,
        errors: if errors.is_empty() {
            "none".into()
        } else {
            errors
        },
    })
}

/// wrk's `812.00us`, `2.31ms` or `1.02s`, in milliseconds.
fn parse_duration_ms(raw: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = raw.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = raw.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = raw.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * scale)
}
