//! The replay Lambda: an operator's `{"queue":"ingest"|"lake","dry_run":bool}` →
//! [`encore_replay::handle`] on the SQS queues the template names.

use encore_platform::config::Env;
use encore_replay::{handle, QueuePairs, QueueUrls, ReplayRequest};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    encore_platform::logging::init();
    let urls = QueueUrls::from_env(&Env::process())?;
    let aws = encore_platform::aws::from_env().await;
    let queues = QueuePairs::on_sqs(&aws_sdk_sqs::Client::new(&aws), &urls);
    lambda_runtime::run(service_fn(|event: LambdaEvent<ReplayRequest>| {
        let queues = &queues;
        async move { handle(event.payload, queues).await }
    }))
    .await
}
