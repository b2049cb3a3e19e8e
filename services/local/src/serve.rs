//! `encore serve`: the skill endpoint, the chat page, the ingest and lake consumers, the
//! daily schedule (refresh of recently asked artists, then similarity), the catch-up run
//! after new lake data ([`crate::catch_up`]) and the manual similarity trigger, in one
//! process.
//!
//! Ctrl-C stops accepting requests, lets each consumer finish the batch it holds, and
//! exits; queued work stays in the durable queues for the next start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Days, TimeZone, Utc};
use encore_chat::server::{check_exposure, guarded, secret_only, serve_bounded, ConnectionLimits};
use encore_chat::{ChatSettings, SecretGuard, SkillEndpoint, SkillSecret};
use encore_domain::SERVICE_TZ as Seoul;
use encore_platform::config::{keys, Env};
use encore_similarity_service::REFRESH_WINDOW_DAYS;
use tokio::sync::watch;

use crate::catch_up::{CatchUp, RELATED_WITHIN_MINUTES};
use crate::stack::{CatalogSource, Stack};
use encore_kakao::RelatedDue;

/// The daily similarity run, local time in Asia/Seoul (03:00 KST, as on AWS).
pub const DAILY_RUN_HOUR_KST: u32 = 3;
/// How long a consumer waits on an empty queue before looking again.
const POLL_WAIT: Duration = Duration::from_millis(500);

/// What `encore serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub catalog: CatalogSource,
}

/// Runs everything until Ctrl-C.
pub async fn serve(stack: Stack, options: ServeOptions, env: &Env) -> anyhow::Result<()> {
    let stack = Arc::new(stack);
    let (catalog, client) = stack.catalog(env, &options.catalog).await?;
    // The catch-up run below relates new artists within a minute: the answers say so.
    let settings = ChatSettings {
        related_due: RelatedDue::Within {
            minutes: RELATED_WITHIN_MINUTES,
        },
        ..ChatSettings::from_env(env)?
    };
    let mut ingest = stack.ingest(client, settings.callback_hosts.clone());
    ingest.callbacks = ingest.callbacks.with_related_due(settings.related_due);
    let ingest = Arc::new(ingest);
    let guard = match env.optional(keys::SKILL_SECRET) {
        Some(secret) => SecretGuard::Required(SkillSecret::new(&secret)?),
        None => SecretGuard::Disabled,
    };
    check_exposure(&guard, options.addr)?;
    let secured = matches!(guard, SecretGuard::Required(_));
    let endpoint = Arc::new(SkillEndpoint::new(stack.chat(settings), guard.clone()));

    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    println!("encore listening on http://{addr}");
    println!("  chat page:      http://{addr}/");
    println!(
        "  Kakao skill:    POST http://{addr}/skill{}",
        if secured {
            " (X-Encore-Skill-Secret required)"
        } else {
            " (no secret: loopback only)"
        }
    );
    println!("  similarity now: POST http://{addr}/similarity/run");
    println!("  similar artists: recomputed within {RELATED_WITHIN_MINUTES} minute of new artists, and daily at 03:00 KST");
    println!("  status:         GET http://{addr}/status");
    println!("  catalog:        {}", catalog.describe());
    println!("  data:           {}", stack.data_dir.display());

    let (stop_tx, stop) = watch::channel(false);
    let invalidate = {
        let endpoint = endpoint.clone();
        move || endpoint.chat.invalidate()
    };
    let mut workers = Vec::new();
    {
        let (stack, ingest, stop, invalidate) = (
            stack.clone(),
            ingest.clone(),
            stop.clone(),
            invalidate.clone(),
        );
        workers.push(tokio::spawn(async move {
            consume(
                "ingest",
                stop,
                || stack.ingest_step(&ingest, POLL_WAIT),
                invalidate,
            )
            .await;
        }));
    }
    let catch_up = Arc::new(CatchUp::default());
    if stack.needs_datamart().await? {
        catch_up.lake_written();
    }
    {
        let (stack, stop, catch_up) = (stack.clone(), stop.clone(), catch_up.clone());
        workers.push(tokio::spawn(async move {
            consume(
                "lake",
                stop,
                || stack.lake_step(POLL_WAIT),
                || catch_up.lake_written(),
            )
            .await;
        }));
    }
    {
        let (stack, stop, invalidate) = (stack.clone(), stop.clone(), invalidate.clone());
        workers.push(tokio::spawn(async move {
            crate::catch_up::run(catch_up, stack, stop, invalidate).await
        }));
    }
    {
        let (stack, stop, invalidate) = (stack.clone(), stop.clone(), invalidate.clone());
        workers.push(tokio::spawn(async move {
            daily_schedule(stack, stop, invalidate).await
        }));
    }

    let limits = ConnectionLimits::default();
    let trigger = Router::new()
        .route("/similarity/run", post(run_now))
        .with_state((stack.clone(), endpoint.clone()));
    let status_page = Router::new()
        .route("/status", get(status))
        .with_state((stack.clone(), endpoint.clone()));
    let app = encore_chat::server::router_with(endpoint.clone(), limits.body_read)
        .merge(crate::page::router())
        .merge(secret_only(status_page, guard.clone()))
        .merge(guarded(trigger, guard, limits.body_read));
    serve_bounded(listener, app, limits, async {
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping: finishing in-flight batches…");
    })
    .await?;
    let _ = stop_tx.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    let (ingest_left, lake_left) = stack.pending().await?;
    println!("stopped; {ingest_left} ingest and {lake_left} lake messages wait in the queues for the next start");
    Ok(())
}

/// Runs `step` until `stop` is set, never interrupting a batch in progress.
async fn consume<S, F>(name: &str, stop: watch::Receiver<bool>, step: S, on_success: impl Fn())
where
    S: Fn() -> F,
    F: std::future::Future<
        Output = Result<encore_messaging::inbound::BatchReport, encore_store::BackendError>,
    >,
{
    while !*stop.borrow() {
        match step().await {
            Ok(report) if report.received > 0 => {
                tracing::info!(
                    queue = name,
                    succeeded = report.succeeded,
                    failed = report.failed,
                    "batch done"
                );
                if report.succeeded > 0 {
                    on_success();
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::error!(queue = name, reason = %err, "consumer step failed; retrying shortly");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The next daily run after `now`: today's or tomorrow's 03:00 in Asia/Seoul.
pub fn next_daily_run(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Seoul).date_naive();
    [local, local + Days::new(1)]
        .into_iter()
        .filter_map(|day| day.and_hms_opt(DAILY_RUN_HOUR_KST, 0, 0))
        .filter_map(|at| Seoul.from_local_datetime(&at).single())
        .map(|at| at.with_timezone(&Utc))
        .find(|at| *at > now)
        .unwrap_or(now + chrono::Duration::days(1))
}

async fn daily_schedule(stack: Arc<Stack>, mut stop: watch::Receiver<bool>, invalidate: impl Fn()) {
    loop {
        let next = next_daily_run(Utc::now());
        tracing::info!(at = %next, "next similarity run");
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        match stack.request_refresh(REFRESH_WINDOW_DAYS).await {
            Ok(summary) => tracing::info!(%summary, "daily refresh requested"),
            Err(err) => {
                tracing::error!(reason = %err, "daily refresh failed; the cached data stays as it is")
            }
        }
        match stack.run_similarity(&()).await {
            Ok(summary) => {
                tracing::info!(%summary, "daily similarity run done");
                invalidate();
            }
            Err(err) => {
                tracing::error!(reason = %err, "daily similarity run failed; yesterday's datamart stays")
            }
        }
    }
}

type TriggerState = (Arc<Stack>, Arc<SkillEndpoint>);

/// `POST /similarity/run` (JSON, with the skill secret when one is set): the daily job
/// now; answers with its summary, or 409 while a run is already in progress.
async fn run_now(
    State((stack, endpoint)): State<TriggerState>,
) -> (StatusCode, Json<serde_json::Value>) {
    let Some(outcome) = stack.try_run_similarity(&(), false).await else {
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "a similarity run is already in progress" })),
        );
    };
    match outcome {
        Ok(summary) => {
            endpoint.chat.invalidate();
            (
                StatusCode::OK,
                Json(serde_json::to_value(&summary).unwrap_or_default()),
            )
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": err.to_string() })),
        ),
    }
}

/// `GET /status`: the figures of `encore status`, as JSON.
async fn status(State((stack, _)): State<TriggerState>) -> (StatusCode, Json<serde_json::Value>) {
    match crate::status::status(&stack).await {
        Ok(status) => (
            StatusCode::OK,
            Json(serde_json::to_value(&status).unwrap_or_default()),
        ),
        Err(err) => {
            tracing::error!(reason = %err, "status unavailable");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": "status unavailable" })),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_run_is_three_in_seoul() {
        let before = Utc.with_ymd_and_hms(2026, 11, 25, 17, 59, 0).unwrap();
        assert_eq!(
            next_daily_run(before),
            Utc.with_ymd_and_hms(2026, 11, 25, 18, 0, 0).unwrap()
        );
        let after = Utc.with_ymd_and_hms(2026, 11, 25, 18, 0, 0).unwrap();
        assert_eq!(
            next_daily_run(after),
            Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap()
        );
    }
}
