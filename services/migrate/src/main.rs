//! The migrate Lambda: answers the `Custom::DatabaseSchema` custom resource of the stack.

use encore_migrate::{answer, Config, SecretsManager, Target};
use encore_platform::Env;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    encore_platform::logging::init();
    let aws = encore_platform::aws::from_env().await;
    let config = Config::from_env(&Env::process(), &aws).await?;
    let target = Target::new(config.database_url.expose(), SecretsManager::new(aws))?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| async {
        answer(event.payload, &target, &http)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
