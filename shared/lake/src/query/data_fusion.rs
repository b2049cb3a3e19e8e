//! [`LakeSql`] on DataFusion over a local lake directory: the embedded twin of Athena,
//! running the same SQL over the same Parquet layout.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::SessionContext;

use super::{track_count_from, LakeSql, ProfileLayout, ProfileRow, QueryError, QueryProgress, PROFILE_SQL};
use crate::tables::ALL_TABLES;

/// [`LakeSql`] over a lake directory laid out like the S3 bucket (`top-tracks/dt=…/`).
#[derive(Debug, Clone)]
pub struct DataFusionLakeSql {
    root: PathBuf,
}

impl DataFusionLakeSql {
    /// An engine over the lake directory `root` (it may be empty or not exist yet: the
    /// query then returns no rows).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The lake directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A session with every lake table registered. A table whose directory does not
    /// exist yet is registered over an empty directory listing all the same, so the SQL
    /// plans and yields nothing.
    async fn session(&self) -> Result<SessionContext, QueryError> {
        let root = std::path::absolute(&self.root).map_err(|e| {
            QueryError::DataFusion(datafusion::error::DataFusionError::IoError(e))
        })?;
        let ctx = SessionContext::new();
        let root_url = root.to_string_lossy();
        for table in ALL_TABLES {
            table.register(&ctx, &root_url).await?;
        }
        Ok(ctx)
    }
}

#[async_trait]
impl LakeSql for DataFusionLakeSql {
    #[tracing::instrument(name = "datafusion_profiles", skip_all, fields(root = %self.root.display()))]
    async fn artist_profiles(&self, progress: &dyn QueryProgress) -> Result<Vec<ProfileRow>, QueryError> {
        let ctx = self.session().await?;
        progress.state("RUNNING");
        let batches = ctx.sql(PROFILE_SQL).await?.collect().await?;
        progress.state("SUCCEEDED");
        let mut profiles = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for batch in &batches {
            decode_batch(batch, &mut profiles)?;
            progress.rows_read(profiles.len());
        }
        Ok(profiles)
    }
}

/// Appends the rows of one result batch, reading columns by name and casting them to the
/// types [`ProfileRow`] holds (so a string column served as a view type reads the same).
fn decode_batch(batch: &RecordBatch, out: &mut Vec<ProfileRow>) -> Result<(), QueryError> {
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let layout = ProfileLayout::locate(&names)?;
    let ids = cast(batch.column(layout.artist_id), &DataType::Utf8)?;
    let ids = ids.as_string::<i32>();
    let counts = cast(batch.column(layout.track_count), &DataType::Int64)?;
    let counts = counts.as_primitive::<Int64Type>();
    let features = layout
        .features
        .iter()
        .map(|&index| cast(batch.column(index), &DataType::Float64))
        .collect::<Result<Vec<_>, _>>()?;
    let features: Vec<_> = features.iter().map(|array| array.as_primitive::<Float64Type>()).collect();
    for i in 0..batch.num_rows() {
        let row = out.len();
        let null = |column: &'static str| QueryError::BadValue { row, column, reason: "NULL".into() };
        if ids.is_null(i) {
            return Err(null(super::ARTIST_ID_COLUMN));
        }
        if counts.is_null(i) {
            return Err(null(super::TRACK_COUNT_COLUMN));
        }
        let mut values = [0.0; 9];
        for ((value, array), column) in values.iter_mut().zip(&features).zip(encore_domain::FEATURE_NAMES) {
            if array.is_null(i) {
                return Err(null(column));
            }
            *value = array.value(i);
        }
        out.push(ProfileRow {
            artist_id: ids.value(i).to_owned(),
            track_count: track_count_from(row, counts.value(i))?,
            features: values,
        });
    }
    Ok(())
}
