//! `encore`: the operator's command line and the embedded all-in-one runner.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use encore_local::first_run::seed_if_empty;
use encore_local::report::{readable, ProgressBars};
use encore_local::serve::{serve, ServeOptions};
use encore_local::stack::{load_catalog, CatalogSource, Stack};
use encore_platform::config::Env;

/// encore: artist recommendations for KakaoTalk, on one machine or on AWS.
///
/// Without AWS or Spotify credentials everything runs locally: SQLite, a lake directory,
/// DataFusion, durable queues and a Spotify stand-in. Configuration also comes from the
/// environment variables listed in the README.
#[derive(Debug, Parser)]
#[command(name = "encore", version, about, long_about)]
struct Cli {
    /// Where the embedded stack keeps its data (SQLite, queues, lake).
    #[arg(
        long,
        global = true,
        env = "ENCORE_DATA_DIR",
        default_value = "./encore-data"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// The Spotify app's mode, for the commands that ingest.
#[derive(Debug, clap::Args)]
struct SpotifyModeArg {
    /// `development` (top tracks and audio features refused: track search and ReccoBeats
    /// instead; the stand-in plays it too) or `extended`.
    #[arg(
        long = "spotify-mode",
        env = "ENCORE_SPOTIFY_MODE",
        default_value = "extended"
    )]
    mode: encore_spotify::SpotifyMode,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything: skill endpoint, chat page, consumers, daily similarity schedule, and
    /// a similarity run a few seconds after new artists reach the lake. On an empty data
    /// directory the built-in demo catalog is loaded and the job run once first.
    Serve {
        /// Address to listen on (without ENCORE_SKILL_SECRET only loopback is allowed).
        #[arg(long, env = "ENCORE_ADDR", default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Catalog for the Spotify stand-in (CSV or .csv.gz with the songs data set's
        /// columns); default: the built-in demo catalog. Ignored when Spotify credentials are set.
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[command(flatten)]
        spotify: SpotifyModeArg,
    },
    /// Send one utterance through the skill handler and print the Kakao JSON, as Kakao
    /// with a callback: for a name the cache does not know, run the pipeline here until
    /// the request is finished (at most 60 s) and print the final answer too. Exit status:
    /// 0 the artist's card, 3 no such artist, 1 anything else. On an empty data directory
    /// it first loads the built-in demo catalog, as `serve` does.
    Chat {
        /// What the user types, e.g. "BTS".
        utterance: String,
        /// Print a readable rendering instead of the JSON.
        #[arg(long)]
        text: bool,
        /// Print only the immediate answer; leave the request to `encore serve`.
        #[arg(long)]
        no_wait: bool,
        /// Catalog for the Spotify stand-in (as for `serve`); ignored with Spotify credentials.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
    /// Request every artist of a catalog through the normal path and wait until ingested.
    Backfill {
        /// The catalog whose artists to request (and to serve through the stand-in).
        #[arg(long)]
        catalog: PathBuf,
        /// Request at most this many artists.
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        spotify: SpotifyModeArg,
    },
    /// Re-ingest the artists users asked about recently (the daily refresh, now), so new
    /// releases and changed top tracks appear; waits until the queues are drained.
    Refresh {
        /// Artists asked about within this many days.
        #[arg(long, default_value_t = encore_similarity_service::REFRESH_WINDOW_DAYS)]
        days: u64,
        /// Catalog for the Spotify stand-in (as for `serve`); ignored with Spotify credentials.
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[command(flatten)]
        spotify: SpotifyModeArg,
    },
    /// The daily similarity job.
    Similarity {
        #[command(subcommand)]
        action: SimilarityAction,
    },
    /// Print an artist's stored related artists with their distances.
    Related {
        /// The artist's name (or a learned alias).
        name: String,
    },
    /// Export the datamart.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Move dead-lettered messages back to their queue.
    Replay {
        /// Which queue's dead letters.
        #[arg(long)]
        queue: encore_replay::QueueName,
        /// List what would move, move nothing.
        #[arg(long)]
        dry_run: bool,
        /// Use the SQS queues named by INGEST_QUEUE_URL, INGEST_DLQ_URL, LAKE_QUEUE_URL and
        /// LAKE_DLQ_URL instead of the embedded ones.
        #[arg(long)]
        aws: bool,
    },
    /// Benchmarks and the similarity quality evaluation.
    Bench {
        #[command(subcommand)]
        what: encore_bench::Bench,
    },
    /// The embedded stack's health: queue depths and dead letters, the last similarity
    /// run and its figures, how many artists and related rows are stored (the same
    /// figures `GET /status` serves while `encore serve` runs).
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SimilarityAction {
    /// Run the job now over the embedded lake and store. Exits non-zero, leaving the
    /// datamart as it is, when the run would relate far fewer artists than the datamart
    /// holds (the shrink guard, ENCORE_SIMILARITY_MIN_KEPT_FRACTION, default 0.9).
    Run {
        /// Replace the datamart even when the shrink guard refuses the run.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ExportWhat {
    /// Every datamart row as artist_id,artist_name,rank,related_id,related_name,distance.
    Related {
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Csv,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    encore_platform::logging::init();
    let cli = Cli::parse();
    let env = Env::process();
    match cli.command {
        Command::Serve {
            addr,
            catalog,
            spotify,
        } => {
            if let Some(path) = &catalog {
                load_catalog(path)?;
            }
            let mut stack = Stack::open(&cli.data_dir, &env).await?;
            stack.features.mode = spotify.mode;
            let catalog = CatalogSource::from_arg(catalog);
            seed_if_empty(&stack, &env, &catalog).await?;
            serve(stack, ServeOptions { addr, catalog }, &env).await
        }
        Command::Chat {
            utterance,
            text,
            no_wait,
            catalog,
        } => {
            if let Some(path) = &catalog {
                load_catalog(path)?;
            }
            let stack = Stack::open(&cli.data_dir, &env).await?;
            let options = encore_local::ask::ChatOptions {
                utterance,
                no_wait,
                catalog: CatalogSource::from_arg(catalog),
            };
            seed_if_empty(&stack, &env, &options.catalog).await?;
            let exit = encore_local::ask::chat(&stack, &options, &env, |answer| {
                if text {
                    print!("{}", readable(&answer.response));
                } else {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(answer.response.as_ref())?
                    );
                }
                Ok(())
            })
            .await?;
            std::io::Write::flush(&mut std::io::stdout())?;
            std::process::exit(exit.code());
        }
        Command::Backfill {
            catalog,
            limit,
            spotify,
        } => {
            let loaded = std::sync::Arc::new(load_catalog(&catalog)?);
            let mut stack = Stack::open(&cli.data_dir, &env).await?;
            stack.features.mode = spotify.mode;
            encore_local::backfill::run(&stack, &catalog, loaded, limit, &env).await
        }
        Command::Refresh {
            days,
            catalog,
            spotify,
        } => {
            if let Some(path) = &catalog {
                load_catalog(path)?;
            }
            let mut stack = Stack::open(&cli.data_dir, &env).await?;
            stack.features.mode = spotify.mode;
            encore_local::refresh::run(&stack, &CatalogSource::from_arg(catalog), days, &env).await
        }
        Command::Similarity {
            action: SimilarityAction::Run { force },
        } => {
            let stack = Stack::open(&cli.data_dir, &env).await?;
            let bars = ProgressBars::new();
            let summary = stack
                .run_similarity_with(&bars, force)
                .await
                .context("the similarity job failed; the previous datamart is unchanged")?;
            bars.finish();
            println!("{summary}");
            Ok(())
        }
        Command::Related { name } => {
            let stack = Stack::open(&cli.data_dir, &env).await?;
            encore_local::report::print_related(&stack, &name).await
        }
        Command::Export {
            what: ExportWhat::Related {
                format: Format::Csv,
            },
        } => {
            let stack = Stack::open(&cli.data_dir, &env).await?;
            match encore_local::report::export_related_csv(&stack, std::io::stdout().lock()).await {
                Err(err) if encore_local::report::is_broken_pipe(&err) => Ok(()),
                done => done,
            }
        }
        Command::Replay {
            queue,
            dry_run,
            aws,
        } => {
            let pairs = if aws {
                let config = encore_platform::aws::from_env().await;
                let urls = encore_replay::QueueUrls::from_env(&env)?;
                encore_replay::QueuePairs::on_sqs(&aws_sdk_sqs::Client::new(&config), &urls)
            } else {
                Stack::open(&cli.data_dir, &env).await?.queue_pairs()
            };
            let summary =
                encore_replay::handle(encore_replay::ReplayRequest { queue, dry_run }, &pairs)
                    .await?;
            println!("{summary}");
            Ok(())
        }
        Command::Status { json } => {
            let stack = Stack::open(&cli.data_dir, &env).await?;
            let status = encore_local::status::status(&stack).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{status}");
            }
            Ok(())
        }
        Command::Bench { what } => encore_bench::run(what).await,
    }
}
