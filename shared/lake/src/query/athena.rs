//! [`LakeSql`] on Athena: `UNLOAD` the profile query to Parquet under a prefix of its own
//! in the lake bucket, poll the query's state with backoff, then read the Parquet files
//! back through the lake's object port and delete them.
//!
//! **Why UNLOAD rather than paging `GetQueryResults`.** `GetQueryResults` serves at most
//! 1,000 rows a call, every cell a string: at a million artists that is 1,000 sequential
//! calls (minutes of a 15-minute Lambda) and eleven million strings parsed back into
//! numbers. `UNLOAD … WITH (format = 'PARQUET')` has Athena write the result as typed
//! columns (`artist_id` varchar, `track_count` bigint, the means double) in a few files,
//! read in one `GetObject` each and decoded by column name by the same decoder as the
//! DataFusion adapter's (see `decode.rs`). What the Athena documentation says of UNLOAD
//! (<https://docs.aws.amazon.com/athena/latest/ug/unload.html>) and how the adapter meets it:
//!
//! - *The `TO` destination must specify a location in Amazon S3 that has no data*: every
//!   run unloads to `s3://<bucket>/`[`UNLOAD_PREFIX`]`/<uuid>/`, a fresh UUID per run.
//! - *No global ordering of files*: with an `ORDER BY`, each file is sorted but the files
//!   are not sorted relative to each other. The adapter sorts the decoded rows by
//!   `artist_id`, which the [`LakeSql`] contract promises.
//! - *Orphaned data not deleted – in the case of a failure, Athena does not attempt to
//!   delete orphaned data*: the adapter deletes whatever is under the run's prefix once the
//!   query has ended, succeeded or not, and a lifecycle rule of the lake bucket
//!   (infra/template.yaml) expires the prefix after a day behind it. A failed delete is a
//!   warning: the rows were read.
//! - *Metadata and manifest files … are saved to your Athena query result location*, not
//!   under `TO`: every object under the run's prefix is a data file. Their names are not
//!   documented, so none is assumed (no `.parquet` suffix either).
//! - The sub-query is PROFILE_SQL as it is, `WITH` clause included: the syntax is
//!   `UNLOAD (SELECT …)`, and Athena engine version 3 (the workgroup's) parses a query
//!   with `WITH` there as everywhere a query goes, which is how client libraries such as
//!   PyAthena wrap `WITH` queries in UNLOAD; the moto tests cannot prove it (moto runs no
//!   SQL).
//! - UNLOAD writes with the caller's permissions: the similarity function may put, get and
//!   delete objects under the prefix (infra/template.yaml, `UnloadedResults`).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_athena::error::DisplayErrorContext;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::time::Instant;

use super::decode::decode_batch;
use super::{LakeSql, ProfileRow, QueryError, QueryProgress, PROFILE_SQL};
use crate::{Lake, S3Lake};

/// The prefix of the lake bucket under which each run unloads its result, in a folder of
/// its own (`athena-unload/<uuid>/`). infra/template.yaml grants the similarity function
/// this prefix and expires it; infra/checks/wiring.py reads the name from here.
pub const UNLOAD_PREFIX: &str = "athena-unload";

/// The statement that writes [`PROFILE_SQL`]'s result to `location` (an `s3://` URL
/// ending in `/`) as Snappy-compressed Parquet.
pub fn unload_statement(location: &str) -> String {
    let quoted = location.replace('\'', "''");
    format!(
        "UNLOAD (\n{PROFILE_SQL}\n)\nTO '{quoted}'\nWITH (format = 'PARQUET', compression = 'SNAPPY')"
    )
}

/// Where Athena runs the query: the workgroup, the Glue database holding the lake tables,
/// and the S3 prefix for the query's own result files, which for an UNLOAD are only its
/// metadata and manifest (`None` when the workgroup enforces its own location).
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

/// The three Athena calls the adapter makes. The SDK client implements it; tests put a
/// scripted fake, or a decorator that writes the Parquet UNLOAD would, behind it.
#[async_trait]
pub trait AthenaApi: Send + Sync {
    /// `StartQueryExecution`: the new execution's id.
    async fn start(&self, sql: &str, target: &AthenaTarget) -> Result<String, QueryError>;
    /// `GetQueryExecution`: the execution's state.
    async fn status(&self, execution_id: &str) -> Result<ExecutionStatus, QueryError>;
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

/// [`LakeSql`] on Athena, over any [`AthenaApi`] (the SDK client in production) and any
/// [`Lake`] object port onto the bucket UNLOAD writes to (the lake's [`S3Lake`]).
#[derive(Debug, Clone)]
pub struct AthenaLakeSql<A = aws_sdk_athena::Client, L = S3Lake> {
    api: A,
    target: AthenaTarget,
    objects: L,
    bucket: String,
    polling: Polling,
}

impl<A: AthenaApi> AthenaLakeSql<A, S3Lake> {
    /// An adapter running queries in `target` and unloading their results into the bucket
    /// of `lake`, with the default [`Polling`].
    pub fn new(api: A, target: AthenaTarget, lake: S3Lake) -> Self {
        let bucket = lake.bucket().to_owned();
        Self::over(api, target, lake, bucket)
    }
}

impl<A: AthenaApi, L: Lake> AthenaLakeSql<A, L> {
    /// An adapter unloading into the S3 bucket `bucket`, which it reads and cleans through
    /// `objects` (keys relative to the bucket's root).
    pub fn over(api: A, target: AthenaTarget, objects: L, bucket: impl Into<String>) -> Self {
        Self {
            api,
            target,
            objects,
            bucket: bucket.into(),
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

    /// Reads every Parquet object under `prefix`, in key order, then sorts the rows by
    /// artist id (each file is sorted, the files are not sorted among themselves).
    async fn read_unloaded(
        &self,
        prefix: &str,
        progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError> {
        let mut profiles = Vec::new();
        for object in self.objects.list(prefix).await? {
            if object.size == 0 {
                continue;
            }
            let Some(bytes) = self.objects.get(&object.key).await? else {
                continue;
            };
            decode_parquet(&object.key, bytes, &mut profiles)?;
            progress.rows_read(profiles.len());
        }
        profiles.sort_by(|a, b| a.artist_id.cmp(&b.artist_id));
        Ok(profiles)
    }

    /// Deletes every object under `prefix`; what cannot be deleted is left to the bucket's
    /// lifecycle rule, with a warning.
    async fn remove_unloaded(&self, prefix: &str) {
        let objects = match self.objects.list(prefix).await {
            Ok(objects) => objects,
            Err(err) => {
                tracing::warn!(prefix, error = %err, "could not list the unloaded result to delete it");
                return;
            }
        };
        for object in objects {
            if let Err(err) = self.objects.delete(&object.key).await {
                tracing::warn!(key = %object.key, error = %err, "could not delete an unloaded result object");
            }
        }
    }
}

/// Appends the rows of one unloaded Parquet object (`key`, for errors) to `out`.
fn decode_parquet(key: &str, bytes: Bytes, out: &mut Vec<ProfileRow>) -> Result<(), QueryError> {
    let parquet = |source| QueryError::Parquet {
        key: key.to_owned(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(parquet)?
        .build()
        .map_err(parquet)?;
    for batch in reader {
        decode_batch(&batch?, out)?;
    }
    Ok(())
}

#[async_trait]
impl<A: AthenaApi, L: Lake> LakeSql for AthenaLakeSql<A, L> {
    #[tracing::instrument(name = "athena_profiles", skip_all, fields(workgroup = %self.target.workgroup, database = %self.target.database))]
    async fn artist_profiles(
        &self,
        progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError> {
        let prefix = format!("{UNLOAD_PREFIX}/{}/", uuid::Uuid::new_v4().simple());
        let location = format!("s3://{}/{prefix}", self.bucket);
        let execution_id = self
            .api
            .start(&unload_statement(&location), &self.target)
            .await?;
        tracing::info!(execution_id, location, "Athena profile query started");
        let result = match self.wait_for(&execution_id, progress).await {
            Ok(()) => self.read_unloaded(&prefix, progress).await,
            Err(err) => Err(err),
        };
        self.remove_unloaded(&prefix).await;
        let profiles = result?;
        tracing::info!(
            execution_id,
            rows = profiles.len(),
            "Athena profile query read"
        );
        Ok(profiles)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use encore_domain::FEATURE_NAMES;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::query::{ARTIST_ID_COLUMN, TRACK_COUNT_COLUMN};
    use crate::LocalDirLake;

    const BUCKET: &str = "lake-bucket";

    /// A lake directory of its own standing in for the bucket, removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!(
                "encore-athena-unload-{}",
                uuid::Uuid::new_v4().simple()
            )))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A scripted Athena: a sequence of states, and the files an UNLOAD writes, put under
    /// the statement's `TO` location when the query starts (as Athena would, even for a
    /// query that then fails: it leaves orphans). It records every call.
    struct FakeAthena {
        states: Mutex<VecDeque<ExecutionStatus>>,
        files: Vec<(&'static str, Bytes)>,
        bucket: LocalDirLake,
        calls: Mutex<Vec<String>>,
        statements: Mutex<Vec<String>>,
    }

    impl FakeAthena {
        fn new(
            states: Vec<ExecutionStatus>,
            files: Vec<(&'static str, Bytes)>,
            bucket: &LocalDirLake,
        ) -> Self {
            Self {
                states: Mutex::new(states.into()),
                files,
                bucket: bucket.clone(),
                calls: Mutex::default(),
                statements: Mutex::default(),
            }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }

        fn record(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }
    }

    /// The key prefix of an UNLOAD statement's `TO 's3://BUCKET/…'`.
    fn unload_prefix(sql: &str) -> String {
        let to = sql.split("TO '").nth(1).expect("a TO location");
        let location = &to[..to.find('\'').expect("a closing quote")];
        location
            .strip_prefix(&format!("s3://{BUCKET}/"))
            .expect("the lake bucket")
            .to_owned()
    }

    #[async_trait]
    impl AthenaApi for FakeAthena {
        async fn start(&self, sql: &str, target: &AthenaTarget) -> Result<String, QueryError> {
            self.record(format!("start {}/{}", target.workgroup, target.database));
            self.statements.lock().unwrap().push(sql.to_owned());
            let prefix = unload_prefix(sql);
            for (name, bytes) in &self.files {
                self.bucket
                    .put(&format!("{prefix}{name}"), bytes.clone())
                    .await
                    .unwrap();
            }
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

    /// Row `n`: artist `artist-<n>`, `n % 10 + 1` tracks, feature i = n + i / 4.
    fn profile(n: usize) -> ProfileRow {
        ProfileRow {
            artist_id: format!("artist-{n:05}"),
            track_count: (n % 10 + 1) as u32,
            features: std::array::from_fn(|i| n as f64 + i as f64 / 4.0),
        }
    }

    /// A Parquet file as Athena's UNLOAD writes it for `rows`: `artist_id` varchar (UTF-8
    /// strings), `track_count` bigint (INT64), the means double, Snappy; columns in an
    /// order unlike the SQL's (the features reversed, the id last) to prove decoding by
    /// name. `drop` leaves one column out; `null_energy_at` makes one value NULL.
    fn parquet(rows: &[ProfileRow], drop: Option<&str>, null_energy_at: Option<usize>) -> Bytes {
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (i, name) in FEATURE_NAMES.iter().enumerate().rev() {
            let values: Vec<Option<f64>> = rows
                .iter()
                .enumerate()
                .map(|(r, p)| {
                    (!(*name == "energy" && null_energy_at == Some(r))).then_some(p.features[i])
                })
                .collect();
            fields.push(Field::new(*name, DataType::Float64, true));
            columns.push(Arc::new(Float64Array::from(values)));
        }
        fields.push(Field::new(TRACK_COUNT_COLUMN, DataType::Int64, true));
        columns.push(Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|p| i64::from(p.track_count)),
        )));
        fields.push(Field::new(ARTIST_ID_COLUMN, DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from_iter_values(
            rows.iter().map(|p| p.artist_id.as_str()),
        )));
        if let Some(dropped) = drop {
            let at = fields.iter().position(|f| f.name() == dropped).unwrap();
            fields.remove(at);
            columns.remove(at);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(700))
            .build();
        let mut bytes = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        bytes.into()
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

    async fn left_under_prefix(bucket: &LocalDirLake) -> Vec<String> {
        bucket
            .list(&format!("{UNLOAD_PREFIX}/"))
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect()
    }

    #[tokio::test]
    async fn unloads_to_a_fresh_prefix_then_reads_every_file_sorted_and_deletes_them() {
        let dir = TempDir::new();
        let bucket = LocalDirLake::new(&dir.0);
        let all: Vec<ProfileRow> = (0..2_500).map(profile).collect();
        // Each file sorted, the files not: the later artists in the first key.
        let files = vec![
            (
                "20261204_030000_00001_abcde_0",
                parquet(&all[1_000..], None, None),
            ),
            (
                "20261204_030000_00001_abcde_1",
                parquet(&all[..1_000], None, None),
            ),
        ];
        let fake = FakeAthena::new(
            vec![
                status(ExecutionState::Queued, None),
                status(ExecutionState::Running, None),
                status(ExecutionState::Running, None),
                status(ExecutionState::Succeeded, None),
            ],
            files,
            &bucket,
        );
        let adapter =
            AthenaLakeSql::over(fake, target(), bucket.clone(), BUCKET).with_polling(fast());
        let seen = Seen::default();
        let rows = adapter.artist_profiles(&seen).await.unwrap();

        assert_eq!(rows, all, "every row of both files, ordered by artist id");
        assert_eq!(
            adapter.api.calls(),
            [
                "start wg/lake",
                "status exec-1",
                "status exec-1",
                "status exec-1",
                "status exec-1",
            ]
        );
        assert_eq!(
            seen.0.into_inner().unwrap(),
            ["QUEUED", "RUNNING", "SUCCEEDED", "rows 1500", "rows 2500"]
        );
        assert_eq!(
            left_under_prefix(&bucket).await,
            Vec::<String>::new(),
            "the unloaded files are deleted"
        );

        let sql = adapter.api.statements.lock().unwrap()[0].clone();
        let prefix = unload_prefix(&sql);
        assert_eq!(sql, unload_statement(&format!("s3://{BUCKET}/{prefix}")));
        assert!(
            sql.starts_with(&format!(
                "UNLOAD (\n{PROFILE_SQL}\n)\nTO 's3://{BUCKET}/{UNLOAD_PREFIX}/"
            )),
            "{sql}"
        );
        assert!(
            sql.ends_with("\nWITH (format = 'PARQUET', compression = 'SNAPPY')"),
            "{sql}"
        );
        let run = prefix
            .strip_prefix(&format!("{UNLOAD_PREFIX}/"))
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap();
        assert!(
            run.len() == 32 && run.chars().all(|c| c.is_ascii_hexdigit()),
            "{run}"
        );
    }

    #[tokio::test]
    async fn each_run_unloads_to_a_prefix_of_its_own() {
        let dir = TempDir::new();
        let bucket = LocalDirLake::new(&dir.0);
        let fake = FakeAthena::new(
            vec![status(ExecutionState::Succeeded, None)],
            Vec::new(),
            &bucket,
        );
        let adapter = AthenaLakeSql::over(fake, target(), bucket, BUCKET).with_polling(fast());
        assert_eq!(
            adapter.artist_profiles(&()).await.unwrap(),
            Vec::new(),
            "no file, no rows"
        );
        adapter.artist_profiles(&()).await.unwrap();
        let statements = adapter.api.statements.lock().unwrap().clone();
        assert_ne!(unload_prefix(&statements[0]), unload_prefix(&statements[1]));
    }

    #[test]
    fn a_quote_in_the_location_cannot_end_the_literal() {
        assert!(unload_statement("s3://b/it's/").contains("TO 's3://b/it''s/'"));
    }

    #[tokio::test]
    async fn failed_query_reports_athenas_reason_and_deletes_its_orphans() {
        let reason = "SYNTAX_ERROR: line 3:5: Column 'event_id' cannot be resolved";
        for state in [ExecutionState::Failed, ExecutionState::Cancelled] {
            let dir = TempDir::new();
            let bucket = LocalDirLake::new(&dir.0);
            let fake = FakeAthena::new(
                vec![
                    status(ExecutionState::Running, None),
                    status(state.clone(), Some(reason)),
                ],
                vec![("part-0", parquet(&[profile(1)], None, None))],
                &bucket,
            );
            let adapter =
                AthenaLakeSql::over(fake, target(), bucket.clone(), BUCKET).with_polling(fast());
            let seen = Seen::default();
            let err = adapter.artist_profiles(&seen).await.unwrap_err();
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
                seen.0
                    .into_inner()
                    .unwrap()
                    .iter()
                    .all(|s| !s.starts_with("rows")),
                "no results read"
            );
            assert_eq!(
                left_under_prefix(&bucket).await,
                Vec::<String>::new(),
                "Athena's orphans are deleted"
            );
        }
    }

    #[tokio::test]
    async fn a_query_past_its_budget_is_stopped() {
        let dir = TempDir::new();
        let bucket = LocalDirLake::new(&dir.0);
        let fake = FakeAthena::new(
            vec![status(ExecutionState::Running, None)],
            Vec::new(),
            &bucket,
        );
        let polling = Polling {
            timeout: Duration::from_millis(30),
            ..fast()
        };
        let adapter = AthenaLakeSql::over(fake, target(), bucket, BUCKET).with_polling(polling);
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
    async fn undecodable_files_name_the_column_or_object_and_are_deleted_all_the_same() {
        let rows: Vec<ProfileRow> = (0..3).map(profile).collect();
        type Expected = fn(&QueryError) -> bool;
        let cases: [(Bytes, Expected); 3] = [
            (parquet(&rows, None, Some(1)), |e| {
                matches!(
                    e,
                    QueryError::BadValue {
                        row: 1,
                        column: "energy",
                        ..
                    }
                )
            }),
            (parquet(&rows, Some("tempo"), None), |e| {
                matches!(e, QueryError::MissingColumn("tempo")) && e.to_string().contains("tempo")
            }),
            (
                Bytes::from_static(b"not parquet"),
                |e| matches!(e, QueryError::Parquet { key, .. } if key.ends_with("/part-0")),
            ),
        ];
        for (file, expected) in cases {
            let dir = TempDir::new();
            let bucket = LocalDirLake::new(&dir.0);
            let fake = FakeAthena::new(
                vec![status(ExecutionState::Succeeded, None)],
                vec![("part-0", file)],
                &bucket,
            );
            let err = AthenaLakeSql::over(fake, target(), bucket.clone(), BUCKET)
                .artist_profiles(&())
                .await
                .unwrap_err();
            assert!(expected(&err), "{err:?}");
            assert_eq!(left_under_prefix(&bucket).await, Vec::<String>::new());
        }
    }
}
