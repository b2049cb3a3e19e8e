//! The ingest Lambda: SQS batches of `ArtistRequested` → [`encore_ingest::handle`].

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use encore_ingest::spotify::SpotifyCatalog;
use encore_ingest::{handle_until, Callbacks, Config, Deadline, Ingest};
use encore_messaging::eventbridge::EventBridgePublisher;
use encore_messaging::inbound::{from_sqs_event, settle_sqs_batch};
use encore_messaging::sqs::DeadLetterRoutes;
use encore_platform::config::Env;
use encore_spotify::{ClientSecret, SpotifyClient, SpotifyConfig};
use encore_store::dynamodb::DynamoTopTracks;
use encore_store::mysql::MySqlStore;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    encore_platform::logging::init();
    let env = Env::process();
    let aws = encore_platform::aws::from_env().await;
    let config = Config::from_env(&env, &aws).await?;
    // One connection per artist ingested at once (infra/README-deploy.md, pool sizes).
    let pool_size = u32::try_from(config.concurrency).unwrap_or(u32::MAX).max(1);
    let store = Arc::new(MySqlStore::connect_sized(config.database_url.expose(), pool_size).await?);
    let spotify = SpotifyClient::new(
        SpotifyConfig::new(
            config.spotify_client_id.clone(),
            ClientSecret::new(config.spotify_client_secret.clone()),
        )
        .with_features(&config.features),
    )?;
    let artist_budget = config.artist_budget;
    let dead_letters = DeadLetterRoutes::parse(&aws, &config.dead_letter_queues)?;
    let ingest = Ingest {
        catalog: Arc::new(SpotifyCatalog::new(spotify)),
        artists: store.clone(),
        related: store.clone(),
        requests: store,
        top_tracks: Arc::new(DynamoTopTracks::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.top_tracks_table,
        )),
        publisher: Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            config.event_bus_name,
        )),
        callbacks: Callbacks::new(config.allowed_callback_hosts)
            .with_related_due(config.related_due),
        concurrency: config.concurrency,
        releases_kept: config.releases_kept,
        max_receives: config.max_receives,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (ingest, dead_letters) = (&ingest, &dead_letters);
        let deadline = Deadline::lambda(event.context.deadline(), artist_budget);
        async move {
            let records = event.payload.records.clone();
            let outcome = handle_until(from_sqs_event(event.payload), ingest, deadline).await;
            Ok::<SqsBatchResponse, Error>(settle_sqs_batch(&records, &outcome, dead_letters).await)
        }
    }))
    .await
}
