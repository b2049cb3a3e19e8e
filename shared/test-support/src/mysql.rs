//! The test stack's MariaDB: its URL, and a database of its own per test.

use std::str::FromStr;

use encore_platform::config::{keys, Env};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection, MySqlConnection};

use crate::START_THE_STACK;

/// The test stack's MariaDB when `ENCORE_TEST_MYSQL_URL` is not set.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/encore_test";

/// The test MariaDB's URL: `ENCORE_TEST_MYSQL_URL`, or [`DEFAULT_MYSQL_URL`].
pub fn mysql_url() -> String {
    Env::process()
        .optional(keys::TEST_MYSQL_URL)
        .unwrap_or_else(|| DEFAULT_MYSQL_URL.to_owned())
}

/// A database of its own on the test MariaDB, created empty (utf8mb4) and dropped by
/// [`TestDatabase::drop_database`] at the end of the test.
#[derive(Debug)]
pub struct TestDatabase {
    server: MySqlConnectOptions,
    name: String,
}

impl TestDatabase {
    /// Creates `encore_<label>_<uuid>` on the server at [`mysql_url`]; the label says
    /// which tests a database left behind by a failed test came from.
    ///
    /// # Panics
    /// When the URL is not a MySQL URL or MariaDB does not answer (naming the variable,
    /// the URL and how to start the stack), or the database cannot be created.
    pub async fn create(label: &str) -> Self {
        let url = mysql_url();
        let server = MySqlConnectOptions::from_str(&url)
            .unwrap_or_else(|e| panic!("{} is not a MySQL URL ({url}): {e}", keys::TEST_MYSQL_URL));
        let mut admin = server.connect().await.unwrap_or_else(|e| {
            panic!(
                "MariaDB does not answer at {url} ({}): {e}; {START_THE_STACK}",
                keys::TEST_MYSQL_URL
            )
        });
        let name = format!("encore_{label}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("MariaDB at {url} did not create database {name}: {e}"));
        close(admin).await;
        Self { server, name }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's options as the URL gives them (its user, its default database), for
    /// statements outside this database (users, grants, the general log).
    pub fn server(&self) -> &MySqlConnectOptions {
        &self.server
    }

    /// The options to connect to this database, as the URL's user.
    pub fn options(&self) -> MySqlConnectOptions {
        self.server.clone().database(&self.name)
    }

    /// The MySQL store on this database, migrated the way the migrate function does.
    ///
    /// # Panics
    /// When the migrations or the connection fail.
    #[cfg(feature = "store")]
    pub async fn store(&self) -> encore_store::mysql::MySqlStore {
        encore_store::mysql::MySqlStore::migrate_and_connect_with(self.options())
            .await
            .unwrap_or_else(|e| panic!("the store on test database {}: {e}", self.name))
    }

    /// Drops the database.
    ///
    /// # Panics
    /// When MariaDB does not answer or refuses.
    pub async fn drop_database(self) {
        let mut admin = MySqlConnection::connect_with(&self.server)
            .await
            .unwrap_or_else(|e| panic!("MariaDB to drop database {}: {e}", self.name));
        sqlx::query(&format!("DROP DATABASE {}", self.name))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("MariaDB did not drop database {}: {e}", self.name));
        close(admin).await;
    }
}

/// Closes an admin connection; a failure to say goodbye is no failure of the test.
async fn close(admin: MySqlConnection) {
    let _ = admin.close().await;
}
