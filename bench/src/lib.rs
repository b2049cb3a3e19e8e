//! encore's benchmarks and the similarity quality evaluation, all run as
//! `encore bench <what>` (one convention, one place): the k-NN engine, the neighbours'
//! agreement with the data set's genre labels, the skill endpoint under load, ingest
//! against the Spotify stand-in, the lake writer, and a soak of `encore serve`.
//!
//! Nothing here is linked by a Lambda: the production libraries hold only what production
//! runs, and the synthetic data, the CSV dumps and the only code that reads genre labels
//! ([`evaluation`]) live in this crate.

pub mod chat;
pub mod evaluation;
pub mod ingest;
pub mod job;
pub mod knn;
mod knn_studies;
pub mod lake;
pub mod quality;
pub mod soak;
pub mod synthetic;

use clap::Subcommand;

pub use knn::{
    bench_knn, check_sample, read_features, write_features, write_neighbours, BenchError,
    BruteForceCheck, KnnBench, KnnBenchReport, KnnInput,
};
pub use synthetic::{generate, Spread, SyntheticSpec};

/// What `encore bench` measures.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Standardize + exact k-NN (the plain z-score engine); last line `knn_seconds=…`.
    Knn(knn::KnnArgs),
    /// Genre and subgenre agreement@4 of the engine against the reference method.
    Quality(quality::QualityArgs),
    /// The skill endpoint under wrk load, beside a trivial axum handler.
    Chat(chat::ChatArgs),
    /// The daily job end to end on a synthesised lake of N artists: seconds per stage,
    /// `total_seconds=…`, `peak_rss_mb=…`.
    Job(job::JobArgs),
    /// Ingest throughput against the Spotify stand-in with a latency per call.
    Ingest(ingest::IngestArgs),
    /// The lake writer: the data set's artists as `ArtistIngested` events into Parquet.
    Lake(lake::LakeArgs),
    /// Sustained `POST /skill` on `encore serve` while a refresh and the job run.
    Soak(soak::SoakArgs),
}

/// Runs one benchmark, printing its figures on stdout.
pub async fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Knn(args) => tokio::task::spawn_blocking(move || knn::run(args)).await?,
        Bench::Quality(args) => tokio::task::spawn_blocking(move || quality::run(args)).await?,
        Bench::Chat(args) => chat::run(args).await,
        Bench::Ingest(args) => ingest::run(args).await,
        Bench::Job(args) => job::run(args).await,
        Bench::Lake(args) => lake::run(args).await,
        Bench::Soak(args) => soak::run(args).await,
    }
}
