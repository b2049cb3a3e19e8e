//! A Spotify app in Development Mode gets the same recommendations: a catalog backfilled
//! with `--spotify-mode development` (top tracks from track search, features from the
//! stand-in's ReccoBeats) and again in Extended mode, then `encore similarity run` on both:
//! nearly every artist has 10 neighbours, and the neighbour lists are the same.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const ENCORE: &str = env!("CARGO_BIN_EXE_encore");
/// Lines of the data set the smaller catalog keeps (the header included).
const CATALOG_LINES: usize = 2500;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("encore-devmode-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The first [`CATALOG_LINES`] lines of the songs data set, as a plain CSV.
fn smaller_catalog(dir: &Path) -> PathBuf {
    let source = encore_test_support::data_set();
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&source).unwrap(),
    ));
    let path = dir.join("songs.csv");
    let mut out = std::fs::File::create(&path).unwrap();
    for line in reader.lines().take(CATALOG_LINES) {
        writeln!(out, "{}", line.unwrap()).unwrap();
    }
    path
}

fn encore(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(ENCORE)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("SPOTIFY_CLIENT_ID")
        .env_remove("SPOTIFY_CLIENT_SECRET")
        .env_remove("ENCORE_SPOTIFY_MODE")
        .env_remove("ENCORE_FEATURES_FALLBACK")
        .env_remove("ENCORE_RECCOBEATS_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "encore {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Each artist's neighbours in rank order, from `encore export related --format csv`.
fn neighbour_lists(csv_text: &str) -> BTreeMap<String, Vec<String>> {
    let mut ranked: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        ranked
            .entry(row[0].to_owned())
            .or_default()
            .push((row[2].parse().unwrap(), row[3].to_owned()));
    }
    ranked
        .into_iter()
        .map(|(artist, mut rows)| {
            rows.sort();
            (artist, rows.into_iter().map(|(_, id)| id).collect())
        })
        .collect()
}

fn backfill_and_relate(
    catalog: &Path,
    dir: &Path,
    mode: &str,
) -> (u64, BTreeMap<String, Vec<String>>) {
    let catalog = catalog.to_str().unwrap();
    encore(
        dir,
        &["backfill", "--catalog", catalog, "--spotify-mode", mode],
    );
    encore(dir, &["similarity", "run"]);
    let status: serde_json::Value =
        serde_json::from_str(&encore(dir, &["status", "--json"])).unwrap();
    let ingested = status["artists"].as_u64().unwrap();
    (
        ingested,
        neighbour_lists(&encore(dir, &["export", "related", "--format", "csv"])),
    )
}

#[test]
fn development_mode_recommends_what_extended_mode_does() {
    let root = temp_dir("catalog");
    let catalog = smaller_catalog(&root);
    let development_dir = temp_dir("development");
    let extended_dir = temp_dir("extended");
    let (ingested, development) = backfill_and_relate(&catalog, &development_dir, "development");
    let (_, extended) = backfill_and_relate(&catalog, &extended_dir, "extended");

    assert!(ingested > 500, "{ingested} artists ingested");
    let full = development.values().filter(|n| n.len() == 10).count();
    assert!(
        full as f64 >= 0.97 * ingested as f64,
        "{full} of {ingested} ingested artists have 10 neighbours in Development Mode"
    );
    let artists: std::collections::BTreeSet<&String> =
        development.keys().chain(extended.keys()).collect();
    let equal = artists
        .iter()
        .filter(|a| development.get(**a) == extended.get(**a))
        .count();
    assert!(
        equal as f64 >= 0.99 * artists.len() as f64,
        "{equal} of {} artists have the same neighbour list in both modes",
        artists.len()
    );
    for dir in [root, development_dir, extended_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
