//! The migrate function: the provider of the stack's `Custom::DatabaseSchema` custom
//! resource. CloudFormation invokes it before the functions that use MySQL update (they
//! `DependsOn` the resource); on Create and Update it applies the migrations this build
//! knows (leaving newer ones: a rollback runs older code on a newer schema) and creates or
//! updates the per-function MySQL users from their Secrets Manager secrets; on Delete it
//! answers SUCCESS and touches nothing, so deleting the stack never drops data. Every
//! request is answered, failures included, by a PUT of the response object to the request's
//! pre-signed `ResponseURL`:
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html>.

pub mod users;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use encore_store::BackendError;
use serde::Deserialize;
use serde_json::Value;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::MySqlPool;

use crate::users::{Credentials, FunctionUser};

/// The migrate Lambda's configuration, its secret resolved like every service's.
#[derive(Debug)]
pub struct Config {
    /// MySQL URL with the master user's credentials (`DATABASE_SECRET_ARN`) filled in.
    pub database_url: encore_platform::secrets::DatabaseUrl,
}

impl Config {
    /// Reads the database URL and the master secret (once), naming what is missing.
    pub async fn from_env(
        env: &encore_platform::Env,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, encore_platform::ConfigError> {
        Ok(Self {
            database_url: encore_platform::secrets::database_url(env, aws).await?,
        })
    }
}

/// The request CloudFormation sends; the properties are read per request type, so a
/// Delete is answered whatever they hold.
pub type SchemaRequest = CloudFormationCustomResourceRequest<Value, Value>;

/// The properties of the `Custom::DatabaseSchema` resource in `infra/template.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaProperties {
    /// Secrets Manager ARN of the chat function's database credentials.
    pub chat_user_secret_arn: String,
    /// Secrets Manager ARN of the ingest function's database credentials.
    pub ingest_user_secret_arn: String,
    /// Secrets Manager ARN of the similarity function's database credentials.
    pub similarity_user_secret_arn: String,
}

impl SchemaProperties {
    /// Each function user with the ARN of its secret.
    fn secrets(&self) -> [(FunctionUser, &str); 3] {
        [
            (FunctionUser::Chat, &self.chat_user_secret_arn),
            (FunctionUser::Ingest, &self.ingest_user_secret_arn),
            (FunctionUser::Similarity, &self.similarity_user_secret_arn),
        ]
    }
}

/// The longest failure reason sent: the whole response body may be at most 4,096 bytes
/// (crpg-ref-responses above), and the ids it echoes take up to about 1.5 KB.
const MAX_REASON_BYTES: usize = 1_024;

/// What can stop the schema from being applied; the text becomes the FAILED answer's
/// `Reason` (shown in the stack's events), so it never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database refused or could not be reached.
    #[error(transparent)]
    Store(#[from] BackendError),
    /// The resource's properties are not [`SchemaProperties`].
    #[error("the DatabaseSchema properties are invalid: {0}")]
    Properties(String),
    /// A function user's secret could not be read or is not usable credentials.
    #[error("the {user} user's secret: {reason}")]
    Secret {
        /// The function whose secret failed.
        user: FunctionUser,
        /// Why, without the secret's value.
        reason: String,
    },
    /// The master database URL is not usable.
    #[error("the database URL: {0}")]
    Url(String),
    /// CloudFormation sent a request type this code does not know (none is answered).
    #[error("a custom resource request of an unknown type")]
    UnknownRequest,
    /// The answer could not be delivered to the response URL.
    #[error("could not PUT the answer to the response URL: {0}")]
    Respond(String),
}

/// Reads a secret's string value by its ARN.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret's value; the error says why not, without any value.
    async fn secret_string(&self, arn: &str) -> Result<String, String>;
}

/// [`SecretSource`] on AWS Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManager(aws_config::SdkConfig);

impl SecretsManager {
    /// Reads secrets with the clients of `aws`.
    pub fn new(aws: aws_config::SdkConfig) -> Self {
        Self(aws)
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn secret_string(&self, arn: &str) -> Result<String, String> {
        encore_platform::secrets::fetch(&self.0, arn, "DatabaseSchema user secret")
            .await
            .map_err(|e| e.to_string())
    }
}

/// The database the schema goes into, reached with the master credentials, and where the
/// function users' credentials are read.
pub struct Target<S> {
    options: MySqlConnectOptions,
    database: String,
    secrets: S,
    connect_wait: Duration,
}

/// How long the migrate step keeps trying to reach the database: on a first deploy the
/// proxy's target can still be registering when the resource is created.
const CONNECT_WAIT: Duration = Duration::from_secs(120);
/// Between two attempts.
const CONNECT_RETRY: Duration = Duration::from_secs(5);

impl<S: SecretSource> Target<S> {
    /// `url` is `mysql://master:password@host:port/database`.
    pub fn new(url: &str, secrets: S) -> Result<Self, MigrateError> {
        let options =
            MySqlConnectOptions::from_str(url).map_err(|e| MigrateError::Url(e.to_string()))?;
        Self::with_options(options, secrets)
    }

    /// Like [`Target::new`], with options already built (tests pick the database).
    pub fn with_options(options: MySqlConnectOptions, secrets: S) -> Result<Self, MigrateError> {
        let database = options
            .get_database()
            .ok_or_else(|| MigrateError::Url("names no database".into()))?
            .to_owned();
        Ok(Self {
            options,
            database,
            secrets,
            connect_wait: CONNECT_WAIT,
        })
    }

    /// How long to keep trying to connect (default two minutes).
    pub fn with_connect_wait(mut self, wait: Duration) -> Self {
        self.connect_wait = wait;
        self
    }

    /// One connection with the master user, retried while the database is unavailable.
    async fn connect(&self) -> Result<MySqlPool, BackendError> {
        let until = tokio::time::Instant::now() + self.connect_wait;
        loop {
            let attempt = MySqlPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(self.options.clone())
                .await
                .map_err(BackendError::from);
            match attempt {
                Err(BackendError::Unavailable { reason, .. })
                    if tokio::time::Instant::now() < until =>
                {
                    tracing::warn!(reason, "the database is not reachable yet; retrying");
                    tokio::time::sleep(CONNECT_RETRY).await;
                }
                other => return other,
            }
        }
    }

    /// Applies the migrations and creates or updates the function users; the newest
    /// migration this code knows.
    async fn apply(&self, properties: &SchemaProperties) -> Result<i64, MigrateError> {
        let mut users = Vec::new();
        for (user, arn) in properties.secrets() {
            let raw = self
                .secrets
                .secret_string(arn)
                .await
                .map_err(|reason| MigrateError::Secret { user, reason })?;
            let credentials =
                Credentials::parse(&raw).map_err(|reason| MigrateError::Secret { user, reason })?;
            users.push((user, credentials));
        }
        let pool = self.connect().await?;
        let applied = async {
            encore_store::migrate::mysql(&pool).await?;
            let level = encore_store::migrate::require_mysql(&pool).await?;
            users::ensure(&pool, &self.database, &users).await?;
            Ok::<_, MigrateError>(level.needed)
        }
        .await;
        pool.close().await;
        applied
    }
}

/// The id of the one schema resource: the database's, the same in every answer.
fn physical_id(database: &str) -> String {
    format!("encore-schema-{database}")
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The answer to one request: where it goes and what it says.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The request's pre-signed `ResponseURL`.
    pub url: String,
    /// The response object.
    pub response: CloudFormationCustomResourceResponse,
}

/// Carries out `request` and builds its answer; only a request of an unknown type has none.
pub async fn handle<S: SecretSource>(
    request: SchemaRequest,
    target: &Target<S>,
) -> Result<Answer, MigrateError> {
    use CloudFormationCustomResourceRequest::{Create, Delete, Update};
    let (url, ids, properties, physical) = match request {
        Create(r) => (
            r.response_url,
            (r.stack_id, r.request_id, r.logical_resource_id),
            Some(r.resource_properties),
            physical_id(&target.database),
        ),
        Update(r) => (
            r.response_url,
            (r.stack_id, r.request_id, r.logical_resource_id),
            Some(r.resource_properties),
            r.physical_resource_id,
        ),
        // Deleting the stack (or replacing the resource) keeps the schema and its data.
        Delete(r) => (
            r.response_url,
            (r.stack_id, r.request_id, r.logical_resource_id),
            None,
            r.physical_resource_id,
        ),
        _ => return Err(MigrateError::UnknownRequest),
    };
    let outcome = match properties {
        None => Ok(("the schema and its data are kept".to_owned(), None)),
        Some(raw) => match serde_json::from_value::<SchemaProperties>(raw) {
            Err(e) => Err(MigrateError::Properties(e.to_string())),
            Ok(properties) => target.apply(&properties).await.map(|needed| {
                (
                    format!("schema at migration {needed}; users chat, ingest, similarity"),
                    Some(needed),
                )
            }),
        },
    };
    let mut response = CloudFormationCustomResourceResponse::default();
    (
        response.stack_id,
        response.request_id,
        response.logical_resource_id,
    ) = ids;
    response.physical_resource_id = physical;
    match outcome {
        Ok((reason, needed)) => {
            response.status = CloudFormationCustomResourceResponseStatus::Success;
            response.reason = Some(reason);
            response.data = needed
                .map(|v| HashMap::from([("SchemaVersion".to_owned(), v.to_string())]))
                .unwrap_or_default();
        }
        Err(err) => {
            tracing::error!(error = %err, "the schema was not applied");
            response.status = CloudFormationCustomResourceResponseStatus::Failed;
            response.reason = Some(truncated(&err.to_string(), MAX_REASON_BYTES));
        }
    }
    Ok(Answer { url, response })
}

/// PUTs `response` to the pre-signed `url` with an empty `Content-Type`, as AWS's own
/// `cfn-response` module does (the URL is signed without one):
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-lambda-function-code-cfnresponsemodule.html>.
pub async fn respond(
    http: &reqwest::Client,
    url: &str,
    response: &CloudFormationCustomResourceResponse,
) -> Result<(), MigrateError> {
    let body = serde_json::to_vec(response).map_err(|e| MigrateError::Respond(e.to_string()))?;
    http.put(url)
        .header(reqwest::header::CONTENT_TYPE, "")
        .body(body)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| MigrateError::Respond(e.without_url().to_string()))?;
    Ok(())
}

/// Handles `request` and delivers its answer: the Lambda handler. An error here means
/// CloudFormation got no answer (Lambda then retries the invocation).
pub async fn answer<S: SecretSource>(
    request: SchemaRequest,
    target: &Target<S>,
    http: &reqwest::Client,
) -> Result<(), MigrateError> {
    let answer = handle(request, target).await?;
    tracing::info!(
        status = ?answer.response.status,
        reason = answer.response.reason.as_deref().unwrap_or_default(),
        "answering the custom resource request"
    );
    respond(http, &answer.url, &answer.response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_on_a_character_boundary() {
        assert_eq!(truncated("short", 10), "short");
        let long = "가".repeat(400);
        let cut = truncated(&long, MAX_REASON_BYTES);
        assert!(cut.len() <= MAX_REASON_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
