//! The first run: `encore serve` and `encore chat` on an empty data directory load the
//! built-in demo catalog through the normal path (`ArtistRequested` → ingest → lake) and
//! run the similarity job once before answering, so the first question already shows an
//! artist with four similar ones. A data directory that holds anything starts at once.

use std::sync::Arc;
use std::time::Instant;

use encore_domain::events::SOURCE_OPS;
use encore_messaging::{EventPublisher, OutgoingEvent};
use encore_platform::config::Env;
use encore_standin::ALIASES;

use crate::backfill::{artist_names, backfill_request, drain};
use crate::stack::{load_catalog, CatalogService, CatalogSource, Stack};

/// What a first run did.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstRun {
    /// Demo artists requested (each also under its Korean names, when the stand-in knows them).
    pub artists: usize,
    /// Artists the similarity job related.
    pub related: usize,
    /// Seconds from the first request to the datamart swap.
    pub seconds: f64,
}

/// Seeds the stack with the demo catalog when its data directory is empty and `source` is
/// the demo catalog served by the stand-in; `None` when there was nothing to do (a store
/// with data, another catalog, or Spotify credentials). Reports on stderr (stdout may carry `encore chat`'s JSON).
pub async fn seed_if_empty(
    stack: &Stack,
    env: &Env,
    source: &CatalogSource,
) -> anyhow::Result<Option<FirstRun>> {
    if *source != CatalogSource::Demo || !stack.is_empty().await? {
        return Ok(None);
    }
    let catalog = Arc::new(load_catalog(&stack.demo_catalog_path()?)?);
    let mut names = artist_names(&catalog, None);
    // The Korean names the stand-in knows for these artists are requested too, so ingest
    // learns them as aliases and even `encore chat "아이유"` answers from the store at once.
    let aliases: Vec<String> = ALIASES
        .iter()
        .filter(|(_, artist)| names.iter().any(|name| name == artist))
        .map(|(alias, _)| (*alias).to_owned())
        .collect();
    let artists = names.len();
    names.extend(aliases);
    let (service, client) = stack.catalog_loaded(env, source, catalog).await?;
    if !matches!(service, CatalogService::StandIn { .. }) {
        return Ok(None);
    }
    eprintln!(
        "first run: loading the built-in demo catalog ({artists} artists, {} Korean names) and computing similar artists…",
        names.len() - artists
    );
    let started = Instant::now();
    let ingest = stack.ingest(
        client,
        encore_chat::ChatSettings::from_env(env)?.callback_hosts,
    );
    let events = names
        .iter()
        .map(|name| OutgoingEvent::new(&backfill_request(name), SOURCE_OPS))
        .collect::<Result<Vec<_>, _>>()?;
    stack.bus.publish(&events).await?;
    drain(stack, &ingest, "demo artists ingested").await?;
    let summary = stack.run_similarity(&()).await?;
    let done = FirstRun {
        artists,
        related: summary.artists,
        seconds: started.elapsed().as_secs_f64(),
    };
    eprintln!(
        "first run done in {:.1} s: {} artists ingested, similar artists computed for {}",
        done.seconds, done.artists, done.related
    );
    Ok(Some(done))
}
