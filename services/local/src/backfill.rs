//! `encore backfill`: requests every artist of a catalog through the normal path
//! (`ArtistRequested` events → ingest → lake) and runs the consumers until both queues are
//! drained. The requests are in the durable queue before any is processed, so a backfill
//! killed midway resumes where it stopped when run again (or when `encore serve` starts).

use std::path::Path;
use std::time::Duration;

use encore_domain::events::{ArtistRequested, BusEvent, EventMeta, RequestReason, SOURCE_OPS};
use encore_domain::normalize;
use encore_ingest::Ingest;
use encore_platform::config::Env;
use encore_store::{EventPublisher, OutgoingEvent};
use indicatif::{ProgressBar, ProgressStyle};

use crate::stack::{CatalogSource, Stack};

/// Events published per call to the bus.
const PUBLISH_CHUNK: usize = 100;
/// How long a consumer waits on an empty queue.
const POLL_WAIT: Duration = Duration::from_millis(200);

/// Marker of a finished request phase, so a re-run does not request everything again.
fn requested_marker(stack: &Stack, catalog: &Path) -> std::path::PathBuf {
    let name = catalog
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    stack.data_dir.join(format!("backfill-requested-{name}"))
}

/// Requests the catalog's artists (at most `limit`) and waits until they are ingested and
/// in the lake.
pub async fn run(
    stack: &Stack,
    catalog: &Path,
    limit: Option<usize>,
    env: &Env,
) -> anyhow::Result<()> {
    let source = CatalogSource::File(catalog.to_owned());
    let (service, client) = stack.catalog(env, &source).await?;
    println!("catalog: {}", service.describe());
    let ingest = stack.ingest(
        client,
        encore_chat::ChatSettings::from_env(env)?.callback_hosts,
    );

    let marker = requested_marker(stack, catalog);
    if marker.exists() {
        println!("requests already queued by an earlier run; resuming the queues");
    } else {
        let names = artist_names(catalog, limit)?;
        let bar = bar(names.len() as u64, "requested");
        for chunk in names.chunks(PUBLISH_CHUNK) {
            let events = chunk
                .iter()
                .map(|name| OutgoingEvent::new(&backfill_request(name), SOURCE_OPS))
                .collect::<Result<Vec<_>, _>>()?;
            stack.bus.publish(&events).await?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        std::fs::write(&marker, names.len().to_string())?;
    }

    drain(stack, &ingest, "ingested").await?;
    std::fs::remove_file(&marker)?;
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

fn backfill_request(name: &str) -> ArtistRequested {
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

/// The distinct artist names of a catalog file, in file order.
fn artist_names(catalog: &Path, limit: Option<usize>) -> anyhow::Result<Vec<String>> {
    let loaded = encore_standin::Catalog::load(catalog)?;
    let names = loaded.artists().iter().map(|a| a.name.clone());
    Ok(match limit {
        Some(n) => names.take(n).collect(),
        None => names.collect(),
    })
}

fn bar(total: u64, what: &str) -> ProgressBar {
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}
