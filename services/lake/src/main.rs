//! The lake Lambda: SQS batches of `ArtistIngested` events in, Parquet in S3 out.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use encore_lake::objects::s3::s3_client;
use encore_lake::S3Lake;
use encore_lake_service::{handle, Config};
use encore_messaging::inbound::{from_sqs_event, settle_sqs_batch};
use encore_messaging::sqs::DeadLetterRoutes;
use encore_platform::Env;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    encore_platform::logging::init();
    let config = Config::from_env(&Env::process())?;
    let aws = encore_platform::aws::from_env().await;
    let dead_letters = DeadLetterRoutes::parse(&aws, &config.dead_letter_queues)?;
    let lake = S3Lake::new(s3_client(&aws), config.lake_bucket);
    let (lake, dead_letters) = (&lake, &dead_letters);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let records = event.payload.records.clone();
        let outcome = handle(&from_sqs_event(event.payload), lake).await;
        Ok::<SqsBatchResponse, Error>(settle_sqs_batch(&records, &outcome, dead_letters).await)
    }))
    .await
}
