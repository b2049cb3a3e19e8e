//! `encore backfill`: requests every artist of a catalog through the normal path
//! (`ArtistRequested` events → ingest → lake) and runs the consumers until both queues are
//! drained. The requests are in the durable queue before any is processed, so a backfill
//! killed midway resumes where it stopped when run again (or when `encore serve` starts);
//! its progress is keyed by the catalog's content and the options, and a name published
//! before the kill is not published again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use encore_domain::events::{ArtistRequested, BusEvent, EventMeta, RequestReason, SOURCE_OPS};
use encore_domain::{normalize, NormalizedName};
use encore_ingest::Ingest;
use encore_messaging::decode;
use encore_messaging::{EventPublisher, OutgoingEvent};
use encore_platform::config::Env;
use encore_store::RequestLog;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::stack::{CatalogSource, Stack};

/// Events published per call to the bus.
const PUBLISH_CHUNK: usize = 100;
/// How long a consumer waits on an empty queue.
const POLL_WAIT: Duration = Duration::from_millis(200);

/// Where a backfill records how far its request phase got: keyed by the catalog's content
/// (SHA-256) and the options, so a resumed run continues the same list of names and a
/// changed file or `--limit` starts its own.
fn progress_path(stack: &Stack, catalog: &Path, limit: Option<usize>) -> anyhow::Result<PathBuf> {
    let mut file = std::fs::File::open(catalog)
        .with_context(|| format!("cannot read the catalog {}", catalog.display()))?;
    let mut digest = Sha256::new();
    std::io::copy(&mut file, &mut digest)
        .with_context(|| format!("cannot read the catalog {}", catalog.display()))?;
    let content = hex::encode(&digest.finalize()[..16]);
    let limit = limit.map_or_else(|| "all".to_owned(), |n| n.to_string());
    Ok(stack
        .data_dir
        .join(format!("backfill-{content}-limit-{limit}.progress")))
}

/// How many names of the list an earlier run published (0 without a record).
fn published_so_far(progress: &Path) -> anyhow::Result<usize> {
    match std::fs::read_to_string(progress) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} is not a backfill progress record", progress.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", progress.display())),
    }
}

/// Records that the first `published` names are published: written aside and renamed, so
/// a kill leaves the old record or the new one.
fn record_published(progress: &Path, published: usize) -> anyhow::Result<()> {
    let staged = progress.with_extension("progress.tmp");
    std::fs::write(&staged, published.to_string())
        .and_then(|()| std::fs::rename(&staged, progress))
        .with_context(|| format!("cannot record backfill progress in {}", progress.display()))
}

/// The request ids of the backfill requests already in the ingest queue (waiting, in
/// flight or dead-lettered).
async fn queued_request_ids(stack: &Stack) -> anyhow::Result<HashSet<String>> {
    let mut messages = stack.ingest_queue.list(u32::MAX).await?;
    messages.extend(stack.ingest_queue.dead_letters().list(u32::MAX).await?);
    Ok(messages
        .iter()
        .filter_map(|m| decode::<ArtistRequested>(&m.body).ok())
        .map(|request| request.request_id)
        .collect())
}

/// The names of `chunk` an interrupted run may not have published: the run stopped between
/// publishing a chunk and recording it, so the chunk after the record is checked against
/// what the queue holds and what ingest already finished.
async fn unpublished(stack: &Stack, chunk: &[String]) -> anyhow::Result<Vec<String>> {
    let queued = queued_request_ids(stack).await?;
    let mut left = Vec::with_capacity(chunk.len());
    for name in chunk {
        let request = backfill_request(name);
        if queued.contains(&request.request_id)
            || stack
                .store
                .status(&NormalizedName::of(&request.normalized))
                .await?
                .is_some()
        {
            continue;
        }
        left.push(name.clone());
    }
    Ok(left)
}

/// Requests the catalog's artists (at most `limit`, `loaded` being the file at `catalog`)
/// and waits until they are ingested and in the lake. Killed and run again with the same
/// file and options, it publishes only the names not yet published.
pub async fn run(
    stack: &Stack,
    catalog: &Path,
    loaded: Arc<encore_standin::Catalog>,
    limit: Option<usize>,
    env: &Env,
) -> anyhow::Result<()> {
    let source = CatalogSource::File(catalog.to_owned());
    let names = artist_names(&loaded, limit);
    let (service, client) = stack.catalog_loaded(env, &source, loaded).await?;
    println!("catalog: {}", service.describe());
    let ingest = stack.ingest(
        client,
        encore_chat::ChatSettings::from_env(env)?.callback_hosts,
    );

    let progress = progress_path(stack, catalog, limit)?;
    // A record exists from before the first publish on, so a run finding one knows that
    // the chunk after it may be partly published.
    let mut check_next = progress.exists();
    if !check_next {
        record_published(&progress, 0)?;
    }
    let mut published = published_so_far(&progress)?.min(names.len());
    if published > 0 {
        println!(
            "{published} of {} requests published by an earlier run; resuming",
            names.len()
        );
    }
    let bar = bar(names.len() as u64, "requested");
    bar.set_position(published as u64);
    while published < names.len() {
        let chunk = &names[published..names.len().min(published + PUBLISH_CHUNK)];
        let to_publish = if check_next {
            check_next = false;
            unpublished(stack, chunk).await?
        } else {
            chunk.to_vec()
        };
        let events = to_publish
            .iter()
            .map(|name| OutgoingEvent::new(&backfill_request(name), SOURCE_OPS))
            .collect::<Result<Vec<_>, _>>()?;
        stack.bus.publish(&events).await?;
        published += chunk.len();
        record_published(&progress, published)?;
        bar.set_position(published as u64);
    }
    bar.finish();

    drain(stack, &ingest, "ingested").await?;
    std::fs::remove_file(&progress)
        .with_context(|| format!("cannot remove {}", progress.display()))?;
    println!(
        "backfill done: queues drained{}",
        dead_letter_note(stack).await?
    );
    Ok(())
}

/// Runs the ingest and lake consumers until both queues are empty, counting ingested
/// requests on a progress bar labelled `what`.
pub async fn drain(stack: &Stack, ingest: &Ingest, what: &str) -> anyhow::Result<()> {
    let (waiting, _) = stack.pending().await?;
    let ingested = bar(waiting, what);
    loop {
        let report = stack.ingest_step(ingest, POLL_WAIT).await?;
        ingested.inc(report.succeeded as u64);
        let lake = stack.lake_step(Duration::ZERO).await?;
        let (ingest_left, lake_left) = stack.pending().await?;
        if report.received == 0 && lake.received == 0 && ingest_left == 0 && lake_left == 0 {
            break;
        }
    }
    ingested.finish();
    Ok(())
}

/// ", N request(s) dead-lettered (…)" when the ingest queue has dead letters, else "".
pub async fn dead_letter_note(stack: &Stack) -> anyhow::Result<String> {
    let dead = stack
        .ingest_queue
        .dead_letters()
        .list(u32::MAX)
        .await?
        .len();
    Ok(if dead > 0 {
        format!(", {dead} request(s) dead-lettered (see `encore replay --queue ingest --dry-run`)")
    } else {
        String::new()
    })
}

pub(crate) fn backfill_request(name: &str) -> ArtistRequested {
    ArtistRequested {
        meta: EventMeta::new(ArtistRequested::VERSION),
        query: name.to_owned(),
        normalized: normalize(name),
        requested_by: None,
        callback_url: None,
        request_id: format!("backfill:{}", normalize(name)),
        reason: RequestReason::Backfill,
    }
}

/// The first `limit` artist names of a catalog, in file order, one per normalized name
/// (each is one request).
pub(crate) fn artist_names(catalog: &encore_standin::Catalog, limit: Option<usize>) -> Vec<String> {
    let mut seen = HashSet::new();
    let names = catalog
        .artists()
        .iter()
        .filter(|a| seen.insert(normalize(&a.name)))
        .map(|a| a.name.clone());
    match limit {
        Some(n) => names.take(n).collect(),
        None => names.collect(),
    }
}

fn bar(total: u64, what: &str) -> ProgressBar {
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}
