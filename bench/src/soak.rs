//! `encore bench soak`: sustained `POST /skill` on loopback against `encore serve` while a
//! refresh and the similarity job run, with latency percentiles, errors and the server's
//! resident size.
//!
//! `bash bench/soak.sh [SECONDS] [CONNECTIONS]` prepares a data directory (backfill of
//! the data set, one job run) and runs this; by hand:
//!
//! ```sh
//! encore bench soak --data-dir DIR --catalog CSV --seconds 180 --connections 64
//! ```
//!
//! 90 % of the requests name artists the store knows, 10 % names nobody knows (each a
//! request through the queue to ingest). Ten seconds in, `encore refresh` starts in a
//! second process and `POST /similarity/run` asks the server for the job. Any answer
//! other than 200, and any transport error, is an error.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use encore_kakao::SkillRequest;

/// A known artist is asked this many times in ten.
const KNOWN_IN_TEN: u64 = 9;
/// When the refresh and the job start, after the load began.
const BACKGROUND_AFTER: Duration = Duration::from_secs(10);
/// Secret the server is started with.
const SECRET: &str = "soak-secret-0123456789abcdef";

/// `encore bench soak`'s flags.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// The `encore` binary to serve with (default: this one; use a release build).
    #[arg(long)]
    pub encore: Option<PathBuf>,
    /// A data directory with ingested artists and a datamart.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The catalog the stand-in serves (and the refresh reads).
    #[arg(long)]
    pub catalog: PathBuf,
    /// Seconds of load.
    #[arg(long, default_value_t = 180)]
    pub seconds: u64,
    /// Concurrent connections, each sending one request after another.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
}

/// Kills the child on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The resident set size of process `pid` in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn known_names(data_dir: &Path) -> Vec<String> {
    let url = format!("sqlite://{}?mode=ro", data_dir.join("encore.db").display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("the data directory has a database (run bench/soak.sh)");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT a.name FROM artists a WHERE EXISTS \
         (SELECT 1 FROM related_artists r WHERE r.artist_id = a.id) ORDER BY a.name",
    )
    .fetch_all(&pool)
    .await
    .expect("artists readable");
    pool.close().await;
    names
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// Runs the soak and prints its figures; an error when any request failed, the job did
/// not answer 200 or the refresh failed.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let encore = match args.encore.clone() {
        Some(path) => path,
        None => std::env::current_exe()?,
    };
    let names = Arc::new(known_names(&args.data_dir).await);
    assert!(
        !names.is_empty(),
        "no related artists in the data directory: backfill and run the job first"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let log = std::fs::File::create(args.data_dir.join("soak-serve.log")).expect("log file");
    let server = Running(
        Command::new(&encore)
            .arg("--data-dir")
            .arg(&args.data_dir)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--catalog"])
            .arg(&args.catalog)
            .env("RUST_LOG", "warn")
            .env("ENCORE_SKILL_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("encore serve starts"),
    );
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let started = Instant::now();
    while client.get(format!("{base}/")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_start = rss_mb(pid);

    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max((rss_mb(pid) * 10.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for worker in 0..args.connections {
        let (client, names, url) = (client.clone(), names.clone(), format!("{base}/skill"));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = worker as u64;
            while Instant::now() < deadline {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let utterance = if (n >> 33) % 10 < KNOWN_IN_TEN {
                    names[((n >> 17) as usize) % names.len()].clone()
                } else {
                    format!("soak nobody {worker} {}", latencies.len())
                };
                let body =
                    serde_json::to_string(&SkillRequest::typed(&utterance)).expect("request JSON");
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-encore-skill-secret", SECRET)
                    .body(body)
                    .send()
                    .await;
                let ok = match answer {
                    Ok(response) if response.status() == 200 => response.bytes().await.is_ok(),
                    _ => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }

    tokio::time::sleep(BACKGROUND_AFTER).await;
    let refresh_started = Instant::now();
    let mut refresh = Command::new(&encore)
        .arg("--data-dir")
        .arg(&args.data_dir)
        .args(["refresh", "--catalog"])
        .arg(&args.catalog)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("encore refresh starts");
    let job_started = Instant::now();
    let job = reqwest::Client::new()
        .post(format!("{base}/similarity/run"))
        .header("content-type", "application/json")
        .header("x-encore-skill-secret", SECRET)
        .body("{}")
        .send()
        .await;
    let job_seconds = job_started.elapsed().as_secs_f64();
    let job_status = job.map(|r| r.status().as_u16()).unwrap_or(0);
    let rss_after_job = rss_mb(pid);

    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mine, failed) = worker.await.expect("worker");
        latencies.extend(mine);
        errors += failed;
    }
    let refresh_status = refresh.wait().expect("refresh ends");
    let refresh_seconds = refresh_started.elapsed().as_secs_f64();
    sampler.abort();
    // Let the consumers settle, then read the size the server keeps.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_end = rss_mb(pid);
    latencies.sort_unstable();

    println!(
        "soak: {} s, {} connections, {} known artists, 90 % known / 10 % unknown",
        args.seconds,
        args.connections,
        names.len()
    );
    println!(
        "requests={} errors={errors} rate={:.0}/s p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        latencies.len(),
        latencies.len() as f64 / args.seconds as f64,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "job: status {job_status} in {job_seconds:.1} s; refresh: {refresh_status} in {refresh_seconds:.1} s"
    );
    println!(
        "rss_mb: start {rss_start:.0}, peak {:.0}, after job {rss_after_job:.0}, end {rss_end:.0}",
        peak.load(Ordering::Relaxed) as f64 / 10.0
    );
    drop(server);
    anyhow::ensure!(
        errors == 0 && job_status == 200 && refresh_status.success(),
        "the soak failed: {errors} errors, job status {job_status}, refresh {refresh_status}"
    );
    Ok(())
}
