//! The AWS SDK configuration every adapter is built from.
//!
//! In AWS the standard chain applies (role credentials, `AWS_REGION`, and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` overrides). Tests point the same
//! adapters at the moto server with [`for_endpoint`], with no code change in the adapters.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The region tests and the emulator use.
pub const TEST_REGION: &str = "us-east-1";

/// The standard SDK configuration from the environment.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A configuration that sends every call to `endpoint` (the moto server) with static
/// throw-away credentials.
pub async fn for_endpoint(endpoint: &str) -> SdkConfig {
    let credentials =
        aws_credential_types::Credentials::new("test", "test", None, None, "encore-test");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(TEST_REGION))
        .credentials_provider(credentials)
        .load()
        .await
}

/// True when calls go to a configured endpoint (an emulator) rather than AWS's own; S3
/// then needs path-style addressing, because bucket host names resolve nowhere locally.
pub fn has_custom_endpoint(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
}
