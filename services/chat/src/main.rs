//! The chat Lambda: configuration, adapters, and the API Gateway handler.

use std::sync::Arc;

use encore_chat::lambda::handle_apigw;
use encore_chat::{Chat, Config, SecretGuard, SkillEndpoint, Stores};
use encore_messaging::eventbridge::EventBridgePublisher;
use encore_platform::Env;
use encore_store::dynamodb::DynamoTopTracks;
use encore_store::mysql::MySqlStore;
use lambda_runtime::{service_fn, LambdaEvent};

/// MySQL connections per instance: one request's reads run one after another, and one
/// spare (infra/README-deploy.md, pool sizes).
const POOL_SIZE: u32 = 2;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    encore_platform::logging::init();
    let aws = encore_platform::aws::from_env().await;
    let config = Config::from_env(&Env::process(), &aws).await?;
    let mysql = Arc::new(MySqlStore::connect_sized(config.database_url.expose(), POOL_SIZE).await?);
    let stores = Stores {
        artists: mysql.clone(),
        related: mysql.clone(),
        top_tracks: Arc::new(DynamoTopTracks::new(
            aws_sdk_dynamodb::Client::new(&aws),
            config.top_tracks_table,
        )),
        requests: mysql,
        events: Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            config.event_bus_name,
        )),
    };
    let endpoint = SkillEndpoint::new(
        Chat::new(stores, config.settings),
        SecretGuard::Required(config.secret),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| {
        handle_apigw(&endpoint, event)
    }))
    .await
}
