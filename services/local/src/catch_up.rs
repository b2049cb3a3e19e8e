//! Fresh neighbours in `encore serve`: after the lake consumer writes new data (artists
//! ingested for the first time, or refreshed), the similarity job runs again by itself
//! once the lake has been quiet for [`QUIET`] (or [`MAX_DELAY`] after the first write,
//! so a long stream of writes cannot postpone it for ever). The job stays single-flight:
//! a run already in progress (the daily one, `POST /similarity/run`) is waited out, never
//! doubled. The 03:00 run stays as it is.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::stack::Stack;

/// How long the lake must have been quiet before the catch-up run starts.
pub const QUIET: Duration = Duration::from_secs(3);
/// The longest a catch-up run waits after the first unrelated write, however busy the lake.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// What the answers promise for an artist without similar artists yet: they appear
/// within this many minutes (the delay above plus the job's run over the demo catalog or
/// the whole data set, which takes seconds).
pub const RELATED_WITHIN_MINUTES: u32 = 1;

/// Lake writes not yet covered by a similarity run.
#[derive(Debug)]
struct Pending {
    /// The first write since the last run started (`None`: nothing to do).
    first: Option<Instant>,
    /// The latest write.
    last: Instant,
    /// Counts writes, so a run knows whether more came while it ran.
    generation: u64,
}

/// The debounce between the lake consumer and the similarity job.
#[derive(Debug)]
pub struct CatchUp {
    quiet: Duration,
    max_delay: Duration,
    pending: std::sync::Mutex<Pending>,
    changed: Notify,
}

impl Default for CatchUp {
    /// [`QUIET`] and [`MAX_DELAY`].
    fn default() -> Self {
        Self::new(QUIET, MAX_DELAY)
    }
}

impl CatchUp {
    /// A debounce waiting for `quiet` after the latest write, at most `max_delay` after the
    /// first.
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Self {
            quiet,
            max_delay,
            pending: std::sync::Mutex::new(Pending {
                first: None,
                last: Instant::now(),
                generation: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The lake received new data: a run is due once it has been quiet.
    pub fn lake_written(&self) {
        let now = Instant::now();
        {
            let mut pending = self.pending();
            pending.first.get_or_insert(now);
            pending.last = now;
            pending.generation += 1;
        }
        self.changed.notify_one();
    }

    /// Waits until a run is due; returns the write count it covers.
    pub async fn due(&self) -> u64 {
        loop {
            let at = {
                let pending = self.pending();
                pending.first.map(|first| {
                    (
                        (pending.last + self.quiet).min(first + self.max_delay),
                        pending.generation,
                    )
                })
            };
            match at {
                None => self.changed.notified().await,
                Some((at, generation)) if Instant::now() >= at => return generation,
                Some((at, _)) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.changed.notified() => {}
                    }
                }
            }
        }
    }

    /// A run covering the writes up to `generation` ended: what came later waits for the
    /// next one, from now.
    pub fn ran(&self, generation: u64) {
        let mut pending = self.pending();
        pending.first = (pending.generation != generation).then(Instant::now);
    }
}

/// Runs the catch-up job until `stop` is set: each time [`CatchUp::due`], one similarity
/// run, then `invalidate` so the chat shows the new neighbours.
pub async fn run(
    catch_up: Arc<CatchUp>,
    stack: Arc<Stack>,
    mut stop: watch::Receiver<bool>,
    invalidate: impl Fn(),
) {
    loop {
        let generation = tokio::select! {
            generation = catch_up.due() => generation,
            _ = stop.changed() => return,
        };
        match stack.try_run_similarity(&(), false).await {
            None => {
                // Another run is in progress: it may predate the writes, so look again.
                tokio::select! {
                    _ = tokio::time::sleep(catch_up.quiet) => {}
                    _ = stop.changed() => return,
                }
            }
            Some(Ok(summary)) => {
                tracing::info!(%summary, "similarity caught up with the lake");
                invalidate();
                catch_up.ran(generation);
            }
            Some(Err(err)) => {
                tracing::warn!(reason = %err, "catch-up similarity run failed; the datamart stays as it is until the next write or the daily run");
                catch_up.ran(generation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_QUIET: Duration = Duration::from_millis(100);
    const TEST_MAX_DELAY: Duration = Duration::from_millis(400);

    /// How long after the first write the run was due. The clock starts before that
    /// write, so the lower bounds below cannot fail by the instants between the two.
    async fn first_write_then_due(catch_up: &CatchUp) -> Duration {
        let started = Instant::now();
        catch_up.lake_written();
        catch_up.due().await;
        started.elapsed()
    }

    #[tokio::test]
    async fn a_run_is_due_once_the_lake_is_quiet() {
        let catch_up = CatchUp::new(TEST_QUIET, TEST_MAX_DELAY);
        let waited = first_write_then_due(&catch_up).await;
        assert!(waited >= TEST_QUIET, "{waited:?}");
        assert!(waited < TEST_MAX_DELAY, "{waited:?}");
    }

    #[tokio::test]
    async fn writes_postpone_the_run_but_not_past_the_max_delay() {
        let catch_up = Arc::new(CatchUp::new(TEST_QUIET, TEST_MAX_DELAY));
        // Writes every 20 ms for 4 s: never quiet for 100 ms.
        let writer = {
            let catch_up = catch_up.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    catch_up.lake_written();
                }
            })
        };
        let waited = first_write_then_due(&catch_up).await;
        assert!(waited >= TEST_MAX_DELAY, "{waited:?}");
        assert!(
            waited < Duration::from_secs(3),
            "starved by the writes: {waited:?}"
        );
        writer.abort();
    }

    #[tokio::test]
    async fn nothing_is_due_without_a_write_and_writes_during_a_run_are_kept() {
        let catch_up = CatchUp::new(TEST_QUIET, TEST_MAX_DELAY);
        let idle = tokio::time::timeout(TEST_MAX_DELAY * 2, catch_up.due()).await;
        assert!(idle.is_err(), "a run was due with nothing written");

        catch_up.lake_written();
        let generation = catch_up.due().await;
        catch_up.ran(generation);
        let idle = tokio::time::timeout(TEST_MAX_DELAY * 2, catch_up.due()).await;
        assert!(idle.is_err(), "the run covered every write");

        catch_up.lake_written();
        let generation = catch_up.due().await;
        catch_up.lake_written(); // while the run goes on
        catch_up.ran(generation);
        let waited = tokio::time::timeout(TEST_MAX_DELAY * 5, catch_up.due()).await;
        assert!(waited.is_ok(), "a write during the run was forgotten");
    }
}
