//! Secrets read once at cold start. In AWS the environment carries only a Secrets Manager
//! ARN (`…_ARN`), never the secret itself; locally and in tests the plain variable may be
//! set instead. Values are never logged.

use aws_config::SdkConfig;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::{ConfigError, Env};

/// A secret given either directly (`plain_key`) or as a Secrets Manager ARN (`arn_key`).
/// The plain value wins when both are set; an error names both variables when neither is.
pub async fn resolve(
    env: &Env,
    aws: &SdkConfig,
    plain_key: &'static str,
    arn_key: &'static str,
) -> Result<String, ConfigError> {
    if let Some(value) = env.optional(plain_key) {
        return Ok(value);
    }
    let arn = env
        .optional(arn_key)
        .ok_or(ConfigError::Missing { key: plain_key })?;
    fetch(aws, &arn, arn_key).await
}

/// The string value of the secret `arn`; `key` names the variable that held the ARN.
pub async fn fetch(aws: &SdkConfig, arn: &str, key: &'static str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|err| ConfigError::Invalid {
            key,
            reason: format!(
                "cannot read the secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(err)
            ),
        })?;
    output.secret_string.ok_or(ConfigError::Invalid {
        key,
        reason: "the secret has no string value".into(),
    })
}

/// A MySQL URL that may carry a password. Its `Debug` shows the scheme, host and database
/// only, so a configuration holding one can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, credentials included: for connecting, never for logging.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.0.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("{scheme}://{host}")
            }
            None => "(not a URL)".to_owned(),
        };
        f.debug_tuple("DatabaseUrl").field(&shown).finish()
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The MySQL URL with the user and password of an RDS credentials secret
/// (`{"username": …, "password": …}`) filled in.
pub async fn database_url(env: &Env, aws: &SdkConfig) -> Result<DatabaseUrl, ConfigError> {
    use crate::config::keys;
    let url = env.required(keys::DATABASE_URL)?;
    let Some(arn) = env.optional(keys::DATABASE_SECRET_ARN) else {
        return Ok(DatabaseUrl(url));
    };
    let raw = fetch(aws, &arn, keys::DATABASE_SECRET_ARN).await?;
    let credentials: serde_json::Value =
        serde_json::from_str(&raw).map_err(|_| ConfigError::Invalid {
            key: keys::DATABASE_SECRET_ARN,
            reason: "the secret is not JSON with username and password".into(),
        })?;
    let field = |name: &str| {
        credentials[name]
            .as_str()
            .map(str::to_owned)
            .ok_or(ConfigError::Invalid {
                key: keys::DATABASE_SECRET_ARN,
                reason: format!("the secret has no {name}"),
            })
    };
    with_credentials(&url, &field("username")?, &field("password")?)
        .map(DatabaseUrl)
        .ok_or(ConfigError::Invalid {
            key: keys::DATABASE_URL,
            reason: "not a mysql:// URL".into(),
        })
}

/// `mysql://host/db` with `user:password@` inserted, both percent-encoded.
fn with_credentials(url: &str, user: &str, password: &str) -> Option<String> {
    let rest = url.strip_prefix("mysql://")?;
    let host_part = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    Some(format!(
        "mysql://{}:{}@{host_part}",
        encode(user),
        encode(password)
    ))
}

/// What stays unencoded in the user and password of a URL: RFC 3986's unreserved
/// characters (so `@`, `:` and `/` can never end the userinfo early).
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(raw: &str) -> String {
    utf8_percent_encode(raw, USERINFO).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_debugs_without_its_credentials() {
        let url = DatabaseUrl::new("mysql://app:p%40ss@proxy.example:3306/encore");
        let shown = format!("{url:?}");
        assert_eq!(shown, "DatabaseUrl(\"mysql://proxy.example:3306/encore\")");
        assert!(
            !shown.contains("p%40ss") && !shown.contains("app"),
            "{shown}"
        );
        assert_eq!(url.expose(), "mysql://app:p%40ss@proxy.example:3306/encore");
    }

    #[test]
    fn credentials_are_inserted_and_encoded() {
        assert_eq!(
            with_credentials(
                "mysql://proxy.example:3306/encore?ssl-mode=required",
                "app",
                "p@ss/w:rd"
            )
            .as_deref(),
            Some("mysql://app:p%40ss%2Fw%3Ard@proxy.example:3306/encore?ssl-mode=required")
        );
        assert_eq!(
            with_credentials("mysql://old:x@h/db", "u", "p").as_deref(),
            Some("mysql://u:p@h/db")
        );
        assert_eq!(with_credentials("postgres://h/db", "u", "p"), None);
    }

    #[tokio::test]
    async fn plain_value_wins_and_missing_names_the_variable() {
        let aws = crate::aws::for_endpoint("http://127.0.0.1:9").await;
        let env = Env::from_pairs([("PLAIN", "v")]);
        assert_eq!(
            resolve(&env, &aws, "PLAIN", "PLAIN_ARN").await.unwrap(),
            "v"
        );
        let err = resolve(&Env::from_pairs([]), &aws, "PLAIN", "PLAIN_ARN")
            .await
            .unwrap_err();
        assert_eq!(err, ConfigError::Missing { key: "PLAIN" });
    }

    /// Against the moto server of the test stack: a database URL gets the credentials of
    /// its secret, and a plain secret is read by its ARN.
    #[tokio::test]
    async fn reads_secrets_manager() {
        use crate::config::keys;
        let endpoint = std::env::var(keys::TEST_AWS_ENDPOINT)
            .unwrap_or_else(|_| "http://127.0.0.1:5055".into());
        let aws = crate::aws::for_endpoint(&endpoint).await;
        let client = aws_sdk_secretsmanager::Client::new(&aws);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let suffix = format!("{}-{nanos}", std::process::id());
        let mut arns = Vec::new();
        for (name, value) in [
            ("db", r#"{"username":"app","password":"s3cret"}"#),
            ("skill", "skill-secret"),
        ] {
            let out = client
                .create_secret()
                .name(format!("{name}-{suffix}"))
                .secret_string(value)
                .send()
                .await;
            arns.push(
                out.unwrap_or_else(|e| panic!("moto must run at {endpoint}: {e:?}"))
                    .arn
                    .unwrap(),
            );
        }
        let (db_arn, plain_arn) = (&arns[0], &arns[1]);
        let env = Env::from_pairs([
            (keys::DATABASE_URL, "mysql://proxy:3306/encore"),
            (keys::DATABASE_SECRET_ARN, db_arn.as_str()),
            (keys::SKILL_SECRET_ARN, plain_arn.as_str()),
        ]);
        assert_eq!(
            database_url(&env, &aws).await.unwrap(),
            "mysql://app:s3cret@proxy:3306/encore"
        );
        assert_eq!(
            resolve(&env, &aws, keys::SKILL_SECRET, keys::SKILL_SECRET_ARN)
                .await
                .unwrap(),
            "skill-secret"
        );
    }
}
