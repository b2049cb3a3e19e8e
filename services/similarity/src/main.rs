//! The similarity Lambda: the daily refresh onto the bus, then Athena over the lake (the
//! result unloaded to Parquet in the lake bucket) into the MySQL datamart.

use std::sync::Arc;

use encore_lake::objects::s3::s3_client;
use encore_lake::query::AthenaLakeSql;
use encore_lake::S3Lake;
use encore_messaging::eventbridge::EventBridgePublisher;
use encore_messaging::BusEnvelope;
use encore_platform::Env;
use encore_similarity_service::{handle_event, Config, Similarity};
use encore_store::mysql::MySqlStore;
use lambda_runtime::{service_fn, LambdaEvent};

/// MySQL connections per instance: the datamart swap's (pinned) one and one for the other
/// reads (infra/README-deploy.md, pool sizes).
const POOL_SIZE: u32 = 2;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    encore_platform::logging::init();
    let aws = encore_platform::aws::from_env().await;
    let config = Config::from_env(&Env::process(), &aws).await?;
    let store = Arc::new(MySqlStore::connect_sized(config.database_url.expose(), POOL_SIZE).await?);
    let similarity = Similarity::new(
        Arc::new(AthenaLakeSql::new(
            aws_sdk_athena::Client::new(&aws),
            config.athena,
            S3Lake::new(s3_client(&aws), config.lake_bucket),
        )),
        store,
        Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            config.event_bus_name,
        )),
        config.settings,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<BusEnvelope>| {
        handle_event(event.payload, &similarity)
    }))
    .await
}
