//! The Spotify stand-in's catalog from the songs data set, and a client configuration
//! for a running stand-in.

use std::sync::{Arc, OnceLock};

use encore_standin::Catalog;

use crate::data_set;

/// The songs data set as the stand-in's catalog, loaded once per test binary (it takes a
/// while) and shared by every test in it.
///
/// # Panics
/// When the data set is missing or does not load.
pub fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let path = data_set();
            let catalog = Catalog::load(&path).unwrap_or_else(|e| {
                panic!(
                    "the songs data set at {} does not load: {e}",
                    path.display()
                )
            });
            Arc::new(catalog)
        })
        .clone()
}

/// A Spotify client configuration for `standin`: its default credentials, its accounts
/// and API base URLs, the client's default retries and features (tests shorten the
/// retries and choose the features they need).
#[cfg(feature = "spotify")]
pub fn spotify_config(standin: &encore_standin::RunningStandIn) -> encore_spotify::SpotifyConfig {
    let credentials = encore_standin::Credentials::standin_default();
    encore_spotify::SpotifyConfig::new(
        credentials.client_id,
        encore_spotify::ClientSecret::new(credentials.client_secret),
    )
    .with_base_urls(standin.base_url(), standin.api_base())
}
