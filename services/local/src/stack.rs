//! The embedded stack: every port of the pipeline on one machine, in one data directory.
//!
//! `DATA_DIR/encore.db` holds the relational store, the top-tracks cache and the durable
//! queues (SQLite); `DATA_DIR/lake/` is the lake in S3's key layout, queried by DataFusion.
//! The catalog is Spotify when credentials are set, else the stand-in serving a catalog
//! file in-process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use encore_chat::{Chat, ChatSettings, Stores};
use encore_domain::events::{ArtistIngested, ArtistRequested, BusEvent, RequestReason};
use encore_domain::release::LATEST_RELEASES_KEPT;
use encore_ingest::spotify::SpotifyCatalog;
use encore_ingest::{Callbacks, Deadline, Ingest, DEFAULT_ARTIST_BUDGET, DEFAULT_CONCURRENCY};
use encore_kakao::callback::CallbackHosts;
use encore_lake::query::DataFusionLakeSql;
use encore_lake::LocalDirLake;
use encore_messaging::embedded_bus::{DetailMatch, EmbeddedBus};
use encore_messaging::inbound::{process_batch, BatchReport};
use encore_messaging::Queue;
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_platform::config::{keys, Env};
use encore_replay::{QueuePair, QueuePairs};
use encore_similarity_service::{
    JobError, JobSummary, Progress, RefreshError, RefreshSummary, Settings,
};
use encore_spotify::{ClientSecret, FeatureSettings, SpotifyClient, SpotifyConfig, SpotifyMode};
use encore_standin::{Credentials, Faults, RunningStandIn, StandIn};
use encore_store::sqlite::SqliteStore;
use encore_store::BackendError;

/// The demo catalog authored for the embedded default (see `demo/README.md`).
const DEMO_CATALOG: &str = include_str!("../demo/catalog.csv");
/// Name of the ingest queue (its dead letters: `ingest-dlq`).
pub const INGEST_QUEUE: &str = "ingest";
/// Name of the queue of the daily refresh's requests (its dead letters: `refresh-dlq`):
/// apart from users' requests, which ingest always takes first.
pub const REFRESH_QUEUE: &str = "refresh";
/// Name of the lake queue (its dead letters: `lake-dlq`).
pub const LAKE_QUEUE: &str = "lake";
/// Messages handed to the ingest handler at once (SQS's maximum batch).
const INGEST_BATCH: usize = 10;
/// Messages handed to the lake handler at once: larger batches, fewer Parquet files.
const LAKE_BATCH: usize = 100;
/// Default visibility timeout of the embedded queues (`ENCORE_QUEUE_VISIBILITY_SECS`).
pub const DEFAULT_VISIBILITY_SECS: u64 = 120;
/// Deliveries before a failing message is dead-lettered, as the SAM template's default.
pub const MAX_RECEIVES: u32 = 5;

/// Why the stack could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] BackendError),
    #[error(transparent)]
    Config(#[from] encore_platform::ConfigError),
    #[error("cannot load the catalog {path}: {source}")]
    Catalog {
        path: PathBuf,
        source: encore_standin::CatalogError,
    },
    #[error("cannot start the Spotify stand-in: {0}")]
    StandIn(#[from] encore_standin::StandInError),
    #[error("cannot build the Spotify client: {0}")]
    Spotify(#[from] encore_spotify::SpotifyError),
}

/// Gives the memory a finished job freed back to the operating system. glibc keeps freed
/// heap in the arenas of the threads that used it (the query's and the search's), so the
/// server's resident size would otherwise stay near the job's peak until exit.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only returns free pages of the
    // allocator's own arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Loads and checks the catalog file at `path` (before anything is written for it).
pub fn load_catalog(path: &Path) -> Result<encore_standin::Catalog, StackError> {
    encore_standin::Catalog::load(path).map_err(|source| StackError::Catalog {
        path: path.to_owned(),
        source,
    })
}

/// Which catalog ingest reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSource {
    /// The small demo catalog built into the binary.
    Demo,
    /// A CSV (or .csv.gz) with the songs data set's columns.
    File(PathBuf),
}

impl CatalogSource {
    /// The demo catalog unless a path is given.
    pub fn from_arg(path: Option<PathBuf>) -> Self {
        path.map_or(Self::Demo, Self::File)
    }

    /// A human-readable name for start-up messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Demo => "the built-in demo catalog".into(),
            Self::File(path) => path.display().to_string(),
        }
    }
}

/// Where ingest's catalog data comes from, kept alive as long as the stack.
pub enum CatalogService {
    /// Spotify itself (credentials in the environment).
    Spotify,
    /// The stand-in, serving a catalog file on loopback.
    StandIn {
        server: RunningStandIn,
        source: CatalogSource,
    },
}

impl CatalogService {
    /// A line for start-up messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Spotify => "Spotify Web API (SPOTIFY_CLIENT_ID is set)".into(),
            Self::StandIn { server, source } => {
                format!(
                    "Spotify stand-in at {} serving {}",
                    server.base_url(),
                    source.describe()
                )
            }
        }
    }
}

/// Every adapter of the embedded default, opened on one data directory.
pub struct Stack {
    pub data_dir: PathBuf,
    pub store: Arc<SqliteStore>,
    pub ingest_queue: Arc<EmbeddedQueue>,
    /// The daily refresh's requests, ingested only while no user's request waits.
    pub refresh_queue: Arc<EmbeddedQueue>,
    pub lake_queue: Arc<EmbeddedQueue>,
    pub bus: Arc<EmbeddedBus>,
    pub lake: Arc<LocalDirLake>,
    /// How many of an artist's newest releases ingest keeps (`ENCORE_LATEST_RELEASES`).
    pub releases_kept: usize,
    /// The similarity job's settings (shrink guard from the environment).
    pub job_settings: Settings,
    /// The Spotify app's mode and the feature fallback (environment, or the CLI's
    /// `--spotify-mode`): the stand-in plays the mode too.
    pub features: FeatureSettings,
    /// Held while a similarity run is in progress: at most one at a time per process.
    job: tokio::sync::Mutex<()>,
}

impl Stack {
    /// Opens (creating when needed) the stack in `data_dir`.
    pub async fn open(data_dir: &Path, env: &Env) -> Result<Self, StackError> {
        let visibility = env.parse_or(keys::QUEUE_VISIBILITY_SECS, DEFAULT_VISIBILITY_SECS)?;
        let releases_kept = env.parse_or(keys::LATEST_RELEASES_KEPT, LATEST_RELEASES_KEPT)?;
        let settings = QueueSettings {
            visibility_timeout: Duration::from_secs(visibility),
            max_receives: MAX_RECEIVES,
        };
        std::fs::create_dir_all(data_dir.join("lake")).map_err(|source| StackError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let store = Arc::new(SqliteStore::open(data_dir.join("encore.db")).await?);
        let ingest_queue =
            Arc::new(EmbeddedQueue::open(store.pool().clone(), INGEST_QUEUE, settings).await?);
        let refresh_queue =
            Arc::new(EmbeddedQueue::open(store.pool().clone(), REFRESH_QUEUE, settings).await?);
        let lake_queue =
            Arc::new(EmbeddedQueue::open(store.pool().clone(), LAKE_QUEUE, settings).await?);
        let (field, refresh) = (RequestReason::FIELD, RequestReason::REFRESH);
        let bus = Arc::new(
            EmbeddedBus::new()
                .route_matching(
                    ArtistRequested::DETAIL_TYPE,
                    DetailMatch::AnythingBut(field, refresh),
                    ingest_queue.clone(),
                )
                .route_matching(
                    ArtistRequested::DETAIL_TYPE,
                    DetailMatch::Equals(field, refresh),
                    refresh_queue.clone(),
                )
                .route(ArtistIngested::DETAIL_TYPE, lake_queue.clone()),
        );
        Ok(Self {
            data_dir: data_dir.to_owned(),
            store,
            ingest_queue,
            refresh_queue,
            lake_queue,
            bus,
            lake: Arc::new(LocalDirLake::new(data_dir.join("lake"))),
            releases_kept,
            job_settings: Settings::from_env(env)?,
            features: encore_ingest::config::feature_settings(env)?,
            job: tokio::sync::Mutex::new(()),
        })
    }

    /// The lake SQL engine over this stack's lake directory.
    pub fn lake_sql(&self) -> DataFusionLakeSql {
        DataFusionLakeSql::new(self.data_dir.join("lake"))
    }

    /// The daily similarity job from this stack's lake into its datamart, reporting to
    /// `progress`; waits for a run already in progress to end first.
    pub async fn run_similarity(&self, progress: &dyn Progress) -> Result<JobSummary, JobError> {
        self.run_similarity_with(progress, false).await
    }

    /// [`Stack::run_similarity`], past the shrink guard when `force` is set.
    pub async fn run_similarity_with(
        &self,
        progress: &dyn Progress,
        force: bool,
    ) -> Result<JobSummary, JobError> {
        let _running = self.job.lock().await;
        self.similarity_job(progress, force).await
    }

    /// The similarity job now, or `None` (nothing run) while another run is in progress.
    pub async fn try_run_similarity(
        &self,
        progress: &dyn Progress,
        force: bool,
    ) -> Option<Result<JobSummary, JobError>> {
        let _running = self.job.try_lock().ok()?;
        Some(self.similarity_job(progress, force).await)
    }

    async fn similarity_job(
        &self,
        progress: &dyn Progress,
        force: bool,
    ) -> Result<JobSummary, JobError> {
        let settings = Settings {
            force,
            ..self.job_settings
        };
        let outcome = encore_similarity_service::run_similarity(
            &self.lake_sql(),
            self.store.as_ref(),
            &settings,
            progress,
        )
        .await;
        crate::status::record_job(&self.data_dir, &outcome);
        release_freed_memory();
        outcome
    }

    /// Requests again, on this stack's bus, every artist users asked about in the last
    /// `days` days (the daily refresh).
    pub async fn request_refresh(&self, days: u64) -> Result<RefreshSummary, RefreshError> {
        encore_similarity_service::request_refresh(
            self.store.as_ref(),
            self.bus.as_ref(),
            Utc::now(),
            days,
        )
        .await
    }

    /// The chat over this stack's stores and bus.
    pub fn chat(&self, settings: ChatSettings) -> Chat {
        Chat::new(
            Stores::shared(self.store.clone(), self.bus.clone()),
            settings,
        )
    }

    /// Starts the catalog ingest will read: Spotify when `SPOTIFY_CLIENT_ID` and
    /// `SPOTIFY_CLIENT_SECRET` are set, otherwise the stand-in on `source`.
    pub async fn catalog(
        &self,
        env: &Env,
        source: &CatalogSource,
    ) -> Result<(CatalogService, SpotifyClient), StackError> {
        if let (Some(id), Some(secret)) = (
            env.optional(keys::SPOTIFY_CLIENT_ID),
            env.optional(keys::SPOTIFY_CLIENT_SECRET),
        ) {
            let client = SpotifyClient::new(
                SpotifyConfig::new(id, ClientSecret::new(secret)).with_features(&self.features),
            )?;
            return Ok((CatalogService::Spotify, client));
        }
        let path = match source {
            CatalogSource::File(path) => path.clone(),
            CatalogSource::Demo => self.demo_catalog_path()?,
        };
        let catalog = load_catalog(&path)?;
        self.catalog_loaded(env, source, Arc::new(catalog)).await
    }

    /// The built-in demo catalog, written into the data directory for the stand-in.
    pub fn demo_catalog_path(&self) -> Result<PathBuf, StackError> {
        let path = self.data_dir.join("demo-catalog.csv");
        std::fs::write(&path, DEMO_CATALOG).map_err(|e| StackError::DataDir {
            path: self.data_dir.clone(),
            source: e,
        })?;
        Ok(path)
    }

    /// Whether artists are stored but the datamart is empty (a first run or a backfill
    /// stopped before the similarity job): `encore serve` then runs the job soon.
    pub async fn needs_datamart(&self) -> Result<bool, BackendError> {
        let counts = self.store.counts().await?;
        Ok(counts.artists > 0 && counts.related_rows == 0)
    }

    /// Whether nothing was ever put into this data directory: no artist, no datamart row,
    /// nothing waiting in the queues (a first run seeds such a store).
    pub async fn is_empty(&self) -> Result<bool, BackendError> {
        let counts = self.store.counts().await?;
        let (ingest, lake) = self.pending().await?;
        Ok(counts.artists == 0 && counts.related_rows == 0 && ingest == 0 && lake == 0)
    }

    /// [`Stack::catalog`] with the stand-in serving `catalog`, already loaded from `source`.
    pub async fn catalog_loaded(
        &self,
        env: &Env,
        source: &CatalogSource,
        catalog: Arc<encore_standin::Catalog>,
    ) -> Result<(CatalogService, SpotifyClient), StackError> {
        if let (Some(id), Some(secret)) = (
            env.optional(keys::SPOTIFY_CLIENT_ID),
            env.optional(keys::SPOTIFY_CLIENT_SECRET),
        ) {
            let client = SpotifyClient::new(
                SpotifyConfig::new(id, ClientSecret::new(secret)).with_features(&self.features),
            )?;
            return Ok((CatalogService::Spotify, client));
        }
        let server = StandIn::new(catalog)
            .with_faults(Faults {
                dev_mode: self.features.mode == SpotifyMode::Development,
                ..Faults::default()
            })
            .serve(([127, 0, 0, 1], 0).into())
            .await?;
        let credentials = Credentials::standin_default();
        let features = FeatureSettings {
            reccobeats_base: (self.features.reccobeats_base.clone())
                .or_else(|| Some(server.reccobeats_base())),
            ..self.features.clone()
        };
        let client = SpotifyClient::new(
            SpotifyConfig::new(
                credentials.client_id,
                ClientSecret::new(credentials.client_secret),
            )
            .with_base_urls(server.base_url(), server.api_base())
            .with_features(&features),
        )?;
        Ok((
            CatalogService::StandIn {
                server,
                source: source.clone(),
            },
            client,
        ))
    }

    /// The ingest handler's dependencies over this stack and `client`, posting callbacks
    /// only to `callback_hosts` (the chat's allow-list).
    pub fn ingest(&self, client: SpotifyClient, callback_hosts: CallbackHosts) -> Ingest {
        Ingest {
            catalog: Arc::new(SpotifyCatalog::new(client)),
            artists: self.store.clone(),
            related: self.store.clone(),
            requests: self.store.clone(),
            top_tracks: self.store.clone(),
            publisher: self.bus.clone(),
            callbacks: Callbacks::new(callback_hosts),
            concurrency: DEFAULT_CONCURRENCY,
            releases_kept: self.releases_kept,
            max_receives: MAX_RECEIVES,
        }
    }

    /// One step of the ingest consumer: a batch through the handler, within the messages'
    /// visibility timeout (less a tenth, to settle them): what is not done by then is
    /// failed, never left to reappear while still being worked on. Users' requests come
    /// first: the refresh queue is read only when the ingest queue is empty, a small
    /// batch at a time, so a user's request waits behind at most one such batch.
    pub async fn ingest_step(
        &self,
        ingest: &Ingest,
        wait: Duration,
    ) -> Result<BatchReport, BackendError> {
        let visibility = self.ingest_queue.visibility_timeout();
        let window = visibility.saturating_sub(visibility / 10);
        let budget = DEFAULT_ARTIST_BUDGET.min(visibility / 4);
        let handler =
            |batch| encore_ingest::handle_until(batch, ingest, Deadline::after(window, budget));
        let users = process_batch(
            self.ingest_queue.as_ref(),
            INGEST_BATCH,
            Duration::ZERO,
            handler,
        )
        .await?;
        if users.received > 0 {
            return Ok(users);
        }
        let refreshes = process_batch(
            self.refresh_queue.as_ref(),
            ingest.concurrency.max(1),
            Duration::ZERO,
            handler,
        )
        .await?;
        if refreshes.received > 0 {
            return Ok(refreshes);
        }
        process_batch(self.ingest_queue.as_ref(), INGEST_BATCH, wait, handler).await
    }

    /// One step of the lake consumer: a batch from the lake queue into the lake.
    pub async fn lake_step(&self, wait: Duration) -> Result<BatchReport, BackendError> {
        let lake = self.lake.clone();
        process_batch(self.lake_queue.as_ref(), LAKE_BATCH, wait, |batch| {
            let lake = lake.clone();
            async move { encore_lake_service::handle(&batch, lake.as_ref()).await }
        })
        .await
    }

    /// The queues and their dead letters, for replay.
    pub fn queue_pairs(&self) -> QueuePairs {
        let pair = |queue: &Arc<EmbeddedQueue>| QueuePair {
            source: queue.clone(),
            dead_letters: Arc::new(queue.dead_letters()),
        };
        QueuePairs {
            ingest: pair(&self.ingest_queue),
            lake: pair(&self.lake_queue),
        }
    }

    /// Messages waiting or in flight on the ingest queues (users' and refreshes') and on
    /// the lake queue.
    pub async fn pending(&self) -> Result<(u64, u64), BackendError> {
        Ok((
            self.ingest_queue.depth().await? + self.refresh_queue.depth().await?,
            self.lake_queue.depth().await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use encore_domain::events::{EventMeta, RequestReason, SOURCE_CHAT};
    use encore_messaging::BusEnvelope;
    use encore_store::sqlite::StoreCounts;

    use super::*;

    #[tokio::test]
    async fn the_ingest_consumer_settles_its_batch_within_the_visibility_timeout() {
        let dir =
            std::env::temp_dir().join(format!("encore-stack-deadline-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = Env::from_pairs([(keys::QUEUE_VISIBILITY_SECS, "3")]);
        let stack = Stack::open(&dir, &env).await.unwrap();
        let (service, client) = stack.catalog(&env, &CatalogSource::Demo).await.unwrap();
        let CatalogService::StandIn { server, .. } = &service else {
            panic!("the demo catalog is served by the stand-in");
        };
        let ingest = stack.ingest(client, CallbackHosts::parse("127.0.0.1").unwrap());
        let names = [
            "BTS",
            "IU",
            "TWICE",
            "aespa",
            "Drake",
            "Metallica",
            "Avicii",
            "Daft Punk",
            "Billie Eilish",
            "Dua Lipa",
        ];
        for name in names {
            let event = ArtistRequested {
                meta: EventMeta::new(1),
                query: name.into(),
                normalized: encore_domain::normalize(name),
                requested_by: None,
                callback_url: None,
                request_id: name.into(),
                reason: RequestReason::User,
            };
            let body =
                serde_json::to_string(&BusEnvelope::wrap(&event, SOURCE_CHAT).unwrap()).unwrap();
            stack.ingest_queue.send(&body).await.unwrap();
        }
        // Each Spotify answer takes 400 ms: the 10 artists (4 at a time) need over 4 s,
        // more than the 2.7 s the consumer has (nine tenths of the visibility timeout).
        server.set_latency(Duration::from_millis(400));
        let started = Instant::now();
        let report = stack.ingest_step(&ingest, Duration::ZERO).await.unwrap();
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(3),
            "ran into the visibility timeout: {elapsed:?}"
        );
        assert_eq!(report.received, names.len());
        assert!(report.succeeded >= 1 && report.failed >= 1, "{report:?}");
        let StoreCounts { artists, .. } = stack.store.counts().await.unwrap();
        assert!(artists >= report.succeeded as u64);
        // The failed ones come back and are ingested with time to spare.
        server.set_latency(Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut succeeded = report.succeeded;
        while succeeded < names.len() {
            assert!(
                Instant::now() < deadline,
                "the failed messages did not come back"
            );
            succeeded += stack
                .ingest_step(&ingest, Duration::from_millis(500))
                .await
                .unwrap()
                .succeeded;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn one_similarity_run_at_a_time() {
        let dir = std::env::temp_dir().join(format!("encore-stack-job-{}", std::process::id()));
        let stack = Stack::open(&dir, &Env::from_pairs([])).await.unwrap();
        let running = stack.job.lock().await;
        assert!(
            stack.try_run_similarity(&(), false).await.is_none(),
            "a second run started while one was in progress"
        );
        drop(running);
        let outcome = stack.try_run_similarity(&(), false).await;
        assert!(
            matches!(outcome, Some(Err(JobError::NoProfiles))),
            "{outcome:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
