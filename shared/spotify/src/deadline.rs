//! A deadline for every Spotify call made inside a scope: a caller with limited time (a
//! Lambda invocation, a queue message's visibility timeout) runs its work in [`within`],
//! and the client then never sleeps for a `Retry-After` or a backoff that ends past the
//! deadline (it fails the call with [`crate::SpotifyError::Deadline`] instead) and never
//! waits on a request longer than the time left.
//!
//! The deadline travels as a task-local value, so it reaches the client through any
//! trait in between (ingest's catalog port) without changing its signatures.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with every Spotify call inside it bounded by `deadline`.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left before the deadline of the current scope; `None` outside any scope.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn known_only_inside_a_scope() {
        assert_eq!(remaining(), None);
        let left = within(Instant::now() + Duration::from_secs(60), async {
            remaining()
        })
        .await
        .unwrap();
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60));
        let past = within(Instant::now(), async { remaining() }).await;
        assert_eq!(past, Some(Duration::ZERO));
    }
}
