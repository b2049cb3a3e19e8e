//! The similarity Lambda: the daily refresh onto the bus, then Athena over the lake into
//! the MySQL datamart.

use encore_domain::events::BusEnvelope;
use encore_lake::query::AthenaLakeSql;
use encore_platform::Env;
use encore_similarity_service::{handle_event, Config, Settings};
use encore_store::eventbridge::EventBridgePublisher;
use encore_store::mysql::MySqlStore;
use lambda_runtime::{service_fn, LambdaEvent};

/// MySQL connections per instance: the datamart swap's (pinned) one and one for the other
/// reads (infra/README-deploy.md, pool sizes).
const POOL_SIZE: u32 = 2;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    encore_platform::logging::init();
    let env = Env::process();
    let config = Config::from_env(&env)?;
    let aws = encore_platform::aws::from_env().await;
    let store = MySqlStore::connect_sized(
        &encore_platform::secrets::database_url(&env, &aws).await?,
        POOL_SIZE,
    )
    .await?;
    let lake_sql = AthenaLakeSql::new(aws_sdk_athena::Client::new(&aws), config.athena);
    let publisher = EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&aws),
        config.event_bus_name,
    );
    let settings = Settings::from_env(&env)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<BusEnvelope>| {
        handle_event(event.payload, &lake_sql, &store, &publisher, &settings)
    }))
    .await
}
