//! The per-function MySQL users and their least-privilege grants: each function may do
//! exactly what its code does on the tables, and no function uses the master user.

use encore_store::migrate::tables::{
    ARTISTS, ARTIST_ALIASES, ARTIST_REQUESTS, DATAMART_WATERMARK, RELATED_ARTISTS,
    RELATED_ARTISTS_OLD, RELATED_ARTISTS_STAGING,
};
use encore_store::migrate::MIGRATIONS_TABLE;
use encore_store::BackendError;
use sqlx::MySqlPool;

/// A function that connects to MySQL with a user of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionUser {
    /// Reads artists, aliases and the datamart; claims and records requests.
    Chat,
    /// Writes artists, aliases and requests; reads the datamart for callback answers.
    Ingest,
    /// Reads artists and requests; replaces the datamart through its staging table.
    Similarity,
}

impl std::fmt::Display for FunctionUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Chat => "chat",
            Self::Ingest => "ingest",
            Self::Similarity => "similarity",
        })
    }
}

const READ: &[&str] = &["SELECT"];
const READ_WRITE: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE"];
/// The datamart swap: `RENAME TABLE related_artists TO related_artists_old,
/// related_artists_staging TO related_artists` needs ALTER and DROP on each table renamed
/// and CREATE and INSERT on each new name (MySQL's RENAME TABLE privileges:
/// <https://dev.mysql.com/doc/refman/8.4/en/rename-table.html>).
const LIVE_DATAMART: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP",
];
/// `CREATE TABLE … LIKE`, the load, the rename away, and the drop after a failed load.
const STAGING: &[&str] = &["SELECT", "INSERT", "CREATE", "ALTER", "DROP"];
/// The rename's target for the previous datamart, dropped right after.
const OLD_DATAMART: &[&str] = &["INSERT", "CREATE", "DROP"];

impl FunctionUser {
    /// Every function user, in the order the template lists their secrets.
    pub const ALL: [FunctionUser; 3] = [Self::Chat, Self::Ingest, Self::Similarity];

    /// The privileges of this user, table by table (every user reads the migrations
    /// table: the functions check the schema level at start).
    pub fn grants(self) -> Vec<(&'static [&'static str], &'static str)> {
        let mut grants = vec![(READ, MIGRATIONS_TABLE)];
        match self {
            Self::Chat => grants.extend([
                (READ, ARTISTS),
                (READ, ARTIST_ALIASES),
                (READ, RELATED_ARTISTS),
                (&["SELECT", "INSERT", "UPDATE"][..], ARTIST_REQUESTS),
            ]),
            Self::Ingest => grants.extend([
                (READ_WRITE, ARTISTS),
                (READ_WRITE, ARTIST_ALIASES),
                (READ_WRITE, ARTIST_REQUESTS),
                (READ, RELATED_ARTISTS),
            ]),
            Self::Similarity => grants.extend([
                (READ, ARTISTS),
                (READ, ARTIST_ALIASES),
                (READ, ARTIST_REQUESTS),
                (READ_WRITE, DATAMART_WATERMARK),
                (LIVE_DATAMART, RELATED_ARTISTS),
                (STAGING, RELATED_ARTISTS_STAGING),
                (OLD_DATAMART, RELATED_ARTISTS_OLD),
            ]),
        }
        grants
    }
}

/// A user name and password from a secret `{"username": …, "password": …}`, checked so
/// both can stand in SQL text (user management takes no placeholders).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// MySQL's longest user name.
const MAX_USERNAME: usize = 32;

impl Credentials {
    /// Parses and checks a secret's JSON; the error never contains the password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|_| "not JSON with username and password".to_owned())?;
        let field = |name: &str| {
            value[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no {name}"))
        };
        let (username, password) = (field("username")?, field("password")?);
        if username.is_empty()
            || username.len() > MAX_USERNAME
            || !username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!(
                "username {username:?} is not 1-{MAX_USERNAME} letters, digits or _"
            ));
        }
        if password.is_empty()
            || !password
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'\'' | b'\\' | b'"' | b'`'))
        {
            return Err(
                "the password must be printable ASCII without quotes or backslashes".into(),
            );
        }
        Ok(Self { username, password })
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

/// Creates each user (or sets its password), then makes its privileges exactly
/// [`FunctionUser::grants`] on `database`. Errors name the statement's kind, never the
/// password.
pub async fn ensure(
    pool: &MySqlPool,
    database: &str,
    users: &[(FunctionUser, Credentials)],
) -> Result<(), BackendError> {
    if database.is_empty()
        || !database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(BackendError::rejected(format!(
            "database name {database:?} is not letters, digits or _"
        )));
    }
    for (user, credentials) in users {
        let account = format!("'{}'@'%'", credentials.username);
        let password = &credentials.password;
        let mut statements = vec![
            format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{password}'"),
            format!("ALTER USER {account} IDENTIFIED BY '{password}'"),
            format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"),
        ];
        statements.extend(user.grants().into_iter().map(|(privileges, table)| {
            format!(
                "GRANT {} ON `{database}`.`{table}` TO {account}",
                privileges.join(", ")
            )
        }));
        for statement in &statements {
            sqlx::raw_sql(statement)
                .execute(pool)
                .await
                .map_err(|err| {
                    let reason = BackendError::from(err)
                        .to_string()
                        .replace(password.as_str(), "***");
                    BackendError::rejected(format!(
                        "setting up the {user} user ({}): {reason}",
                        statement.split(" IDENTIFIED").next().unwrap_or_default()
                    ))
                })?;
        }
        tracing::info!(%user, username = credentials.username, "database user ready");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_checked_without_showing_the_password() {
        let ok =
            Credentials::parse(r#"{"username":"encore_chat","password":"Abc123xyz"}"#).unwrap();
        assert_eq!(ok.username(), "encore_chat");
        assert!(!format!("{ok:?}").contains("Abc123xyz"));
        for bad in [
            r#"{"username":"a'b","password":"x"}"#,
            r#"{"username":"","password":"x"}"#,
            r#"{"username":"u","password":"it's"}"#,
            r#"{"username":"u","password":"back\\slash"}"#,
            r#"{"username":"u"}"#,
            "not json",
        ] {
            let err = Credentials::parse(bad).unwrap_err();
            assert!(
                !err.contains("it's") && !err.contains("back\\slash"),
                "{err}"
            );
        }
    }

    #[test]
    fn only_similarity_may_change_table_definitions_and_only_of_the_datamart() {
        for user in FunctionUser::ALL {
            for (privileges, table) in user.grants() {
                let ddl = privileges
                    .iter()
                    .any(|p| matches!(*p, "CREATE" | "DROP" | "ALTER"));
                if ddl {
                    assert_eq!(user, FunctionUser::Similarity, "{user} {table}");
                    assert!(table.starts_with(RELATED_ARTISTS), "{table}");
                }
            }
        }
    }
}
