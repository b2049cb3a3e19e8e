//! `encore refresh`: requests again every artist users asked about recently (the daily
//! refresh, run now) and runs the consumers until the queues are drained, so the cache
//! and the lake hold each artist's current top tracks and latest releases.

use encore_platform::config::Env;

use crate::backfill::{dead_letter_note, drain};
use crate::stack::{CatalogSource, Stack};

/// Refreshes the artists asked about in the last `days` days, reading `catalog`.
pub async fn run(
    stack: &Stack,
    catalog: &CatalogSource,
    days: u64,
    env: &Env,
) -> anyhow::Result<()> {
    let (service, client) = stack.catalog(env, catalog).await?;
    println!("catalog: {}", service.describe());
    let ingest = stack.ingest(
        client,
        encore_chat::ChatSettings::from_env(env)?.callback_hosts,
    );
    let summary = stack.request_refresh(days).await?;
    println!("{summary}");
    drain(stack, &ingest, "refreshed").await?;
    println!(
        "refresh done: queues drained{}",
        dead_letter_note(stack).await?
    );
    Ok(())
}
