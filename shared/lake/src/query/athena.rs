//! [`LakeSql`] on Athena: start the query, poll its state with backoff, then read every
//! result row through `GetQueryResults`.
//!
//! **Why paginate `GetQueryResults` rather than read the CSV Athena writes to S3.** The
//! pages carry the result's column metadata, so rows are decoded by column name, and a
//! SQL NULL is an absent value rather than an empty CSV field to tell apart from `""`; the
//! adapter needs only the Athena API (no S3 client, no CSV parser, no knowledge of the
//! output location's layout, which a workgroup may override), and the whole path, call
//! sequence and decoding included, runs against the moto server, which does not write
//! result files the way Athena does. The cost is one call per [`ATHENA_PAGE_SIZE`] rows:
//! about 50 calls for 50,000 artists and 1,000 sequential calls (a few minutes) at a
//! million, inside a Lambda's 15 minutes. Should the lake grow well past that, reading
//! the result object in one `GetObject` becomes the better trade. What the reference
//! system got wrong, reading only the first page, cannot happen here: every page is
//! followed until `NextToken` is absent.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_athena::error::DisplayErrorContext;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use tokio::time::Instant;

use super::{
    track_count_from, LakeSql, ProfileLayout, ProfileRow, QueryError, QueryProgress, PROFILE_SQL,
};

/// Most rows Athena returns in one `GetQueryResults` page.
pub const ATHENA_PAGE_SIZE: i32 = 1_000;

/// Where Athena runs the query: the workgroup, the Glue database holding the lake tables,
/// and the S3 prefix for result files (`None` when the workgroup enforces its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaTarget {
    pub workgroup: String,
    pub database: String,
    pub output_location: Option<String>,
}

/// The state of a query execution, as Athena names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// A state this code does not know (added to the API later): treated as not finished.
    Other(String),
}

impl ExecutionState {
    /// Athena's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Other(state) => state,
        }
    }
}

impl fmt::Display for ExecutionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query's state and, once it failed or was cancelled, Athena's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionStatus {
    pub state: ExecutionState,
    pub reason: Option<String>,
}

/// One page of a query's results: the column names, the rows (a `None` cell is SQL NULL)
/// and the token of the next page, if any. The first page's first row is the header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultPage {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub next_token: Option<String>,
}

/// The four Athena calls the adapter makes. The SDK client implements it; tests put a
/// paged fake behind it to prove pagination over more rows than moto serves in a page.
#[async_trait]
pub trait AthenaApi: Send + Sync {
    /// `StartQueryExecution`: the new execution's id.
    async fn start(&self, sql: &str, target: &AthenaTarget) -> Result<String, QueryError>;
    /// `GetQueryExecution`: the execution's state.
    async fn status(&self, execution_id: &str) -> Result<ExecutionStatus, QueryError>;
    /// `GetQueryResults`: the page after `next_token` (the first page when `None`).
    async fn page(
        &self,
        execution_id: &str,
        next_token: Option<&str>,
    ) -> Result<ResultPage, QueryError>;
    /// `StopQueryExecution`: asks Athena to cancel a query that is taking too long.
    async fn stop(&self, execution_id: &str) -> Result<(), QueryError>;
}

fn sdk_error(operation: &'static str, err: impl std::error::Error) -> QueryError {
    QueryError::Athena {
        operation,
        message: DisplayErrorContext(err).to_string(),
    }
}

#[async_trait]
impl AthenaApi for aws_sdk_athena::Client {
    async fn start(&self, sql: &str, target: &AthenaTarget) -> Result<String, QueryError> {
        let output = self
            .start_query_execution()
            .query_string(sql)
            .work_group(&target.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&target.database)
                    .build(),
            )
            .set_result_configuration(target.output_location.as_ref().map(|location| {
                ResultConfiguration::builder()
                    .output_location(location)
                    .build()
            }))
            .send()
            .await
            .map_err(|e| sdk_error("StartQueryExecution", e))?;
        output
            .query_execution_id()
            .map(str::to_owned)
            .ok_or_else(|| QueryError::Athena {
                operation: "StartQueryExecution",
                message: "no execution id".into(),
            })
    }

    async fn status(&self, execution_id: &str) -> Result<ExecutionStatus, QueryError> {
        let output = self
            .get_query_execution()
            .query_execution_id(execution_id)
            .send()
            .await
            .map_err(|e| sdk_error("GetQueryExecution", e))?;
        let status = output.query_execution().and_then(|q| q.status());
        let state = match status.and_then(|s| s.state()) {
            Some(QueryExecutionState::Queued) => ExecutionState::Queued,
            Some(QueryExecutionState::Running) => ExecutionState::Running,
            Some(QueryExecutionState::Succeeded) => ExecutionState::Succeeded,
            Some(QueryExecutionState::Failed) => ExecutionState::Failed,
            Some(QueryExecutionState::Cancelled) => ExecutionState::Cancelled,
            Some(other) => ExecutionState::Other(other.as_str().to_owned()),
            None => ExecutionState::Other("UNKNOWN".into()),
        };
        let reason = status.and_then(|s| {
            s.state_change_reason()
                .or_else(|| s.athena_error().and_then(|e| e.error_message()))
                .map(str::to_owned)
        });
        Ok(ExecutionStatus { state, reason })
    }

    async fn page(
        &self,
        execution_id: &str,
        next_token: Option<&str>,
    ) -> Result<ResultPage, QueryError> {
        let output = self
            .get_query_results()
            .query_execution_id(execution_id)
            .set_next_token(next_token.map(str::to_owned))
            .max_results(ATHENA_PAGE_SIZE)
            .send()
            .await
            .map_err(|e| sdk_error("GetQueryResults", e))?;
        let result_set = output.result_set();
        let columns = result_set
            .and_then(|r| r.result_set_metadata())
            .map(|m| {
                m.column_info()
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let rows = result_set
            .map(|r| {
                r.rows()
                    .iter()
                    .map(|row| {
                        row.data()
                            .iter()
                            .map(|d| d.var_char_value().map(str::to_owned))
                            .collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(ResultPage {
            columns,
            rows,
            next_token: output.next_token().map(str::to_owned),
        })
    }

    async fn stop(&self, execution_id: &str) -> Result<(), QueryError> {
        self.stop_query_execution()
            .query_execution_id(execution_id)
            .send()
            .await
            .map_err(|e| sdk_error("StopQueryExecution", e))?;
        Ok(())
    }
}

/// How the adapter waits for a query: the first pause between state checks, doubling up
/// to `max_delay`, and the total time after which it gives up (and stops the query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
}

impl Default for Polling {
    /// Quick first checks for small lakes, a 5 s cadence for long queries, and 10 minutes
    /// in all, leaving a 15-minute Lambda time for the k-NN and the load.
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
        }
    }
}

/// [`LakeSql`] on Athena, over any [`AthenaApi`] (the SDK client in production).
#[derive(Debug, Clone)]
pub struct AthenaLakeSql<A = aws_sdk_athena::Client> {
    api: A,
    target: AthenaTarget,
    polling: Polling,
}

impl<A: AthenaApi> AthenaLakeSql<A> {
    /// An adapter running queries in `target` with the default [`Polling`].
    pub fn new(api: A, target: AthenaTarget) -> Self {
        Self {
            api,
            target,
            polling: Polling::default(),
        }
    }

    /// The same adapter with another polling schedule.
    pub fn with_polling(mut self, polling: Polling) -> Self {
        self.polling = polling;
        self
    }

    /// Polls until the query succeeds; FAILED / CANCELLED and the time budget are errors.
    async fn wait_for(
        &self,
        execution_id: &str,
        progress: &dyn QueryProgress,
    ) -> Result<(), QueryError> {
        let started = Instant::now();
        let mut delay = self.polling.first_delay;
        let mut last_state: Option<ExecutionState> = None;
        loop {
            let status = self.api.status(execution_id).await?;
            if last_state.as_ref() != Some(&status.state) {
                progress.state(status.state.as_str());
                tracing::debug!(execution_id, state = %status.state, "Athena query state");
            }
            match status.state {
                ExecutionState::Succeeded => return Ok(()),
                ExecutionState::Failed | ExecutionState::Cancelled => {
                    return Err(QueryError::Failed {
                        execution_id: execution_id.to_owned(),
                        state: status.state,
                        reason: status
                            .reason
                            .unwrap_or_else(|| "Athena gave no reason".into()),
                    });
                }
                ExecutionState::Queued | ExecutionState::Running | ExecutionState::Other(_) => {}
            }
            let waited = started.elapsed();
            if waited + delay > self.polling.timeout {
                if let Err(err) = self.api.stop(execution_id).await {
                    tracing::warn!(execution_id, error = %err, "could not stop the timed-out Athena query");
                }
                return Err(QueryError::TimedOut {
                    execution_id: execution_id.to_owned(),
                    state: status.state,
                    waited_secs: waited.as_secs(),
                });
            }
            last_state = Some(status.state);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.polling.max_delay);
        }
    }

    /// Reads every page, skipping the header row at the top of the first page only.
    async fn read_all(
        &self,
        execution_id: &str,
        progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError> {
        let mut profiles = Vec::new();
        let mut layout: Option<ProfileLayout> = None;
        let mut token: Option<String> = None;
        loop {
            let page = self.api.page(execution_id, token.as_deref()).await?;
            let first_page = layout.is_none();
            let current = match layout {
                Some(known) => known,
                None if page.columns.is_empty() && page.rows.is_empty() => return Ok(profiles),
                None => *layout.insert(ProfileLayout::locate(&page.columns)?),
            };
            let rows = page.rows.into_iter().skip(usize::from(first_page));
            for cells in rows {
                let row = decode_row(profiles.len(), &current, cells)?;
                profiles.push(row);
            }
            progress.rows_read(profiles.len());
            match page.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(profiles),
            }
        }
    }
}

#[async_trait]
impl<A: AthenaApi> LakeSql for AthenaLakeSql<A> {
    #[tracing::instrument(name = "athena_profiles", skip_all, fields(workgroup = %self.target.workgroup, database = %self.target.database))]
    async fn artist_profiles(
        &self,
        progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError> {
        let execution_id = self.api.start(PROFILE_SQL, &self.target).await?;
        tracing::info!(execution_id, "Athena profile query started");
        self.wait_for(&execution_id, progress).await?;
        let profiles = self.read_all(&execution_id, progress).await?;
        tracing::info!(
            execution_id,
            rows = profiles.len(),
            "Athena profile query read"
        );
        Ok(profiles)
    }
}

/// One Athena result row (every cell text) as a [`ProfileRow`]; `row` counts data rows
/// from 0, for error messages.
fn decode_row(
    row: usize,
    layout: &ProfileLayout,
    cells: Vec<Option<String>>,
) -> Result<ProfileRow, QueryError> {
    let cell = |index: usize, column: &'static str| -> Result<&str, QueryError> {
        cells
            .get(index)
            .and_then(Option::as_deref)
            .ok_or_else(|| QueryError::BadValue {
                row,
                column,
                reason: "missing or NULL".into(),
            })
    };
    let artist_id = cell(layout.artist_id, super::ARTIST_ID_COLUMN)?.to_owned();
    let count_text = cell(layout.track_count, super::TRACK_COUNT_COLUMN)?;
    let count: i64 = count_text.parse().map_err(|_| QueryError::BadValue {
        row,
        column: super::TRACK_COUNT_COLUMN,
        reason: format!("{count_text:?} is not an integer"),
    })?;
    let mut features = [0.0; 9];
    for ((value, &index), column) in features
        .iter_mut()
        .zip(&layout.features)
        .zip(encore_domain::FEATURE_NAMES)
    {
        let text = cell(index, column)?;
        *value = text.parse().map_err(|_| QueryError::BadValue {
            row,
            column,
            reason: format!("{text:?} is not a number"),
        })?;
    }
    Ok(ProfileRow {
        artist_id,
        track_count: track_count_from(row, count)?,
        features,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::query::{ARTIST_ID_COLUMN, TRACK_COUNT_COLUMN};
    use encore_domain::FEATURE_NAMES;

    /// A scripted Athena: a sequence of states, then `pages` served by `NextToken`. It
    /// records every call, and checks that no page exceeds Athena's page size.
    struct FakeAthena {
        states: Mutex<VecDeque<ExecutionStatus>>,
        pages: Vec<ResultPage>,
        calls: Mutex<Vec<String>>,
    }

    impl FakeAthena {
        fn new(states: Vec<ExecutionStatus>, pages: Vec<ResultPage>) -> Self {
            Self {
                states: Mutex::new(states.into()),
                pages,
                calls: Mutex::default(),
            }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }

        fn record(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }
    }

    #[async_trait]
    impl AthenaApi for FakeAthena {
        async fn start(&self, sql: &str, target: &AthenaTarget) -> Result<String, QueryError> {
            assert_eq!(sql, PROFILE_SQL);
            self.record(format!("start {}/{}", target.workgroup, target.database));
            Ok("exec-1".into())
        }

        async fn status(&self, execution_id: &str) -> Result<ExecutionStatus, QueryError> {
            self.record(format!("status {execution_id}"));
            let mut states = self.states.lock().unwrap();
            let status = states.front().cloned().expect("a scripted state");
            if states.len() > 1 {
                states.pop_front();
            }
            Ok(status)
        }

        async fn page(
            &self,
            execution_id: &str,
            next_token: Option<&str>,
        ) -> Result<ResultPage, QueryError> {
            self.record(format!("page {execution_id} {}", next_token.unwrap_or("-")));
            let index = match next_token {
                None => 0,
                Some(token) => token
                    .strip_prefix("token-")
                    .and_then(|n| n.parse().ok())
                    .expect("a token we issued"),
            };
            let page = self.pages[index].clone();
            assert!(page.rows.len() <= ATHENA_PAGE_SIZE as usize);
            Ok(page)
        }

        async fn stop(&self, execution_id: &str) -> Result<(), QueryError> {
            self.record(format!("stop {execution_id}"));
            Ok(())
        }
    }

    fn status(state: ExecutionState, reason: Option<&str>) -> ExecutionStatus {
        ExecutionStatus {
            state,
            reason: reason.map(str::to_owned),
        }
    }

    fn fast() -> Polling {
        Polling {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            timeout: Duration::from_secs(5),
        }
    }

    fn target() -> AthenaTarget {
        AthenaTarget {
            workgroup: "wg".into(),
            database: "lake".into(),
            output_location: None,
        }
    }

    /// Columns in an order unlike the SQL's, to prove decoding by name.
    fn columns() -> Vec<String> {
        let mut columns: Vec<String> = FEATURE_NAMES
            .iter()
            .rev()
            .map(|s| (*s).to_owned())
            .collect();
        columns.insert(2, TRACK_COUNT_COLUMN.into());
        columns.push(ARTIST_ID_COLUMN.into());
        columns
    }

    /// Row `n` in [`columns`] order: artist `artist-<n>`, `n % 10 + 1` tracks, feature i = n + i.
    fn row(n: usize) -> Vec<Option<String>> {
        columns()
            .iter()
            .map(|column| match column.as_str() {
                ARTIST_ID_COLUMN => Some(format!("artist-{n:05}")),
                TRACK_COUNT_COLUMN => Some((n % 10 + 1).to_string()),
                feature => {
                    let i = FEATURE_NAMES.iter().position(|f| *f == feature).unwrap();
                    Some(format!("{}", n as f64 + i as f64 / 4.0))
                }
            })
            .collect()
    }

    /// `total` data rows cut into Athena-sized pages, the header first on page one.
    fn paged(total: usize) -> Vec<ResultPage> {
        let header: Vec<Option<String>> = columns().into_iter().map(Some).collect();
        let all: Vec<Vec<Option<String>>> =
            std::iter::once(header).chain((0..total).map(row)).collect();
        let chunks: Vec<_> = all.chunks(ATHENA_PAGE_SIZE as usize).collect();
        let count = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, rows)| ResultPage {
                columns: columns(),
                rows: rows.to_vec(),
                next_token: (i + 1 < count).then(|| format!("token-{}", i + 1)),
            })
            .collect()
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl QueryProgress for Seen {
        fn state(&self, state: &str) {
            self.0.lock().unwrap().push(state.to_owned());
        }
        fn rows_read(&self, rows: usize) {
            self.0.lock().unwrap().push(format!("rows {rows}"));
        }
    }

    #[tokio::test]
    async fn polls_until_succeeded_then_reads_every_page() {
        let pages = paged(2_500);
        assert_eq!(pages.len(), 3, "header + 2,500 rows make three pages");
        let fake = FakeAthena::new(
            vec![
                status(ExecutionState::Queued, None),
                status(ExecutionState::Running, None),
                status(ExecutionState::Running, None),
                status(ExecutionState::Succeeded, None),
            ],
            pages,
        );
        let adapter = AthenaLakeSql::new(fake, target()).with_polling(fast());
        let seen = Seen::default();
        let rows = adapter.artist_profiles(&seen).await.unwrap();

        assert_eq!(
            rows.len(),
            2_500,
            "no row lost to a page limit, the header skipped once"
        );
        for (n, profile) in rows.iter().enumerate() {
            assert_eq!(profile.artist_id, format!("artist-{n:05}"));
            assert_eq!(profile.track_count as usize, n % 10 + 1);
            let expected: [f64; 9] = std::array::from_fn(|i| n as f64 + i as f64 / 4.0);
            assert_eq!(profile.features, expected, "row {n}");
        }
        assert_eq!(
            adapter.api.calls(),
            [
                "start wg/lake",
                "status exec-1",
                "status exec-1",
                "status exec-1",
                "status exec-1",
                "page exec-1 -",
                "page exec-1 token-1",
                "page exec-1 token-2",
            ]
        );
        assert_eq!(
            seen.0.into_inner().unwrap(),
            [
                "QUEUED",
                "RUNNING",
                "SUCCEEDED",
                "rows 999",
                "rows 1999",
                "rows 2500"
            ]
        );
    }

    #[tokio::test]
    async fn failed_query_reports_athenas_reason_and_reads_nothing() {
        let reason = "SYNTAX_ERROR: line 3:5: Column 'event_id' cannot be resolved";
        for state in [ExecutionState::Failed, ExecutionState::Cancelled] {
            let fake = FakeAthena::new(
                vec![
                    status(ExecutionState::Running, None),
                    status(state.clone(), Some(reason)),
                ],
                paged(3),
            );
            let adapter = AthenaLakeSql::new(fake, target()).with_polling(fast());
            let err = adapter.artist_profiles(&()).await.unwrap_err();
            match &err {
                QueryError::Failed {
                    execution_id,
                    state: got,
                    reason: why,
                } => {
                    assert_eq!(
                        (execution_id.as_str(), got, why.as_str()),
                        ("exec-1", &state, reason)
                    );
                }
                other => panic!("expected Failed, got {other:?}"),
            }
            assert!(err.to_string().contains(reason), "{err}");
            assert!(
                adapter.api.calls().iter().all(|c| !c.starts_with("page")),
                "no results read"
            );
        }
    }

    #[tokio::test]
    async fn a_query_past_its_budget_is_stopped() {
        let fake = FakeAthena::new(vec![status(ExecutionState::Running, None)], Vec::new());
        let polling = Polling {
            timeout: Duration::from_millis(30),
            ..fast()
        };
        let adapter = AthenaLakeSql::new(fake, target()).with_polling(polling);
        let err = adapter.artist_profiles(&()).await.unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::TimedOut {
                    state: ExecutionState::Running,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            adapter.api.calls().last().map(String::as_str),
            Some("stop exec-1")
        );
    }

    #[tokio::test]
    async fn undecodable_cells_name_row_and_column() {
        let mut pages = paged(2);
        let energy = columns().iter().position(|c| c == "energy").unwrap();
        pages[0].rows[2][energy] = Some("loud".into());
        let fake = FakeAthena::new(vec![status(ExecutionState::Succeeded, None)], pages);
        let err = AthenaLakeSql::new(fake, target())
            .artist_profiles(&())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::BadValue {
                    row: 1,
                    column: "energy",
                    ..
                }
            ),
            "{err:?}"
        );

        let mut pages = paged(1);
        pages[0].rows[1][0] = None;
        let fake = FakeAthena::new(vec![status(ExecutionState::Succeeded, None)], pages);
        let err = AthenaLakeSql::new(fake, target())
            .artist_profiles(&())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::BadValue {
                    row: 0,
                    column: "tempo",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn an_empty_result_is_no_rows() {
        let header_only = paged(0);
        let fake = FakeAthena::new(vec![status(ExecutionState::Succeeded, None)], header_only);
        assert_eq!(
            AthenaLakeSql::new(fake, target())
                .artist_profiles(&())
                .await
                .unwrap(),
            Vec::new()
        );
    }
}
