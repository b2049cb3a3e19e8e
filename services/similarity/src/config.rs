//! The similarity Lambda's configuration, read once at cold start, its secret (the
//! database credentials, from Secrets Manager) resolved.

use aws_config::SdkConfig;
use encore_lake::query::AthenaTarget;
use encore_platform::config::{keys, ConfigError, Env};
use encore_platform::secrets::{self, DatabaseUrl};

use crate::job::Settings;

/// Variables this service reads beyond [`encore_platform::config::keys`].
pub mod service_keys {
    /// S3 prefix (`s3://bucket/prefix/`) for Athena's result files (for the profile
    /// query's UNLOAD, its metadata and manifest only). Unset: the workgroup's own result
    /// location, which the SAM template enforces.
    pub const ATHENA_OUTPUT_LOCATION: &str = "ATHENA_OUTPUT_LOCATION";
}

/// Athena's built-in workgroup, used when [`keys::ATHENA_WORKGROUP`] is unset.
pub const DEFAULT_WORKGROUP: &str = "primary";

/// What the similarity Lambda needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the profile query runs.
    pub athena: AthenaTarget,
    /// The lake bucket, under whose [`UNLOAD_PREFIX`](encore_lake::query::UNLOAD_PREFIX)
    /// the profile query's result is unloaded and read back.
    pub lake_bucket: String,
    /// The bus the daily refresh publishes `ArtistRequested` to.
    pub event_bus_name: String,
    /// The job's settings (the shrink guard).
    pub settings: Settings,
    /// MySQL URL of the datamart, with the credentials of `DATABASE_SECRET_ARN` filled in
    /// when that is set.
    pub database_url: DatabaseUrl,
}

impl Config {
    /// Reads the configuration and then the secret (once), naming the first missing or
    /// invalid variable.
    pub async fn from_env(env: &Env, aws: &SdkConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            athena: AthenaTarget {
                workgroup: env
                    .optional(keys::ATHENA_WORKGROUP)
                    .unwrap_or_else(|| DEFAULT_WORKGROUP.to_owned()),
                database: env.required(keys::LAKE_DATABASE)?,
                output_location: env.optional(service_keys::ATHENA_OUTPUT_LOCATION),
            },
            lake_bucket: env.required(keys::LAKE_BUCKET)?,
            event_bus_name: env.required(keys::EVENT_BUS_NAME)?,
            settings: Settings::from_env(env)?,
            database_url: secrets::database_url(env, aws).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_and_bus_are_required_and_the_rest_defaults() {
        let aws = encore_platform::aws::for_endpoint("http://127.0.0.1:9").await;
        let err = Config::from_env(&Env::from_pairs([]), &aws)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                key: keys::LAKE_DATABASE
            }
        );
        let err = Config::from_env(
            &Env::from_pairs([(keys::LAKE_DATABASE, "encore_lake")]),
            &aws,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                key: keys::LAKE_BUCKET
            }
        );
        let err = Config::from_env(
            &Env::from_pairs([
                (keys::LAKE_DATABASE, "encore_lake"),
                (keys::LAKE_BUCKET, "encore-lake-bucket"),
            ]),
            &aws,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                key: keys::EVENT_BUS_NAME
            }
        );
        let config = Config::from_env(
            &Env::from_pairs([
                (keys::LAKE_DATABASE, "encore_lake"),
                (keys::LAKE_BUCKET, "encore-lake-bucket"),
                (keys::EVENT_BUS_NAME, "encore-bus"),
                (keys::DATABASE_URL, "mysql://encore:db-password@db/encore"),
            ]),
            &aws,
        )
        .await
        .unwrap();
        assert!(!format!("{config:?}").contains("db-password"));
        assert_eq!(config.event_bus_name, "encore-bus");
        assert_eq!(config.lake_bucket, "encore-lake-bucket");
        assert_eq!(
            config.athena,
            AthenaTarget {
                workgroup: "primary".into(),
                database: "encore_lake".into(),
                output_location: None
            }
        );
        let config = Config::from_env(
            &Env::from_pairs([
                (keys::LAKE_DATABASE, "encore_lake"),
                (keys::LAKE_BUCKET, "encore-lake-bucket"),
                (keys::EVENT_BUS_NAME, "encore-bus"),
                (keys::ATHENA_WORKGROUP, "encore-lake"),
                (service_keys::ATHENA_OUTPUT_LOCATION, "s3://results/"),
                (keys::DATABASE_URL, "mysql://db/encore"),
            ]),
            &aws,
        )
        .await
        .unwrap();
        assert_eq!(config.athena.workgroup, "encore-lake");
        assert_eq!(
            config.athena.output_location.as_deref(),
            Some("s3://results/")
        );
    }
}
