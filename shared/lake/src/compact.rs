//! Compaction: merging one day's small part files into a few large ones, because Athena
//! and DataFusion pay per file opened.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;

use crate::objects::{Lake, ObjectInfo};
use crate::tables::{LakeTable, FILE_EXTENSION};
use crate::write::{derived_id, encode_parquet, partition_date};
use crate::LakeError;

/// Default size a compacted file aims at.
pub const DEFAULT_TARGET_BYTES: u64 = 128 * 1024 * 1024;
/// Parquet metadata key of a compacted file: the keys of the files it replaces, one a line.
const COMPACTED_FROM: &str = "encore.compacted_from";

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Files merged (and deleted).
    pub inputs: Vec<String>,
    /// Files written.
    pub outputs: Vec<String>,
    /// Rows copied.
    pub rows: usize,
    /// Objects removed to finish or undo an earlier, interrupted compaction.
    pub recovered: Vec<String>,
}

/// The name of a compacted file: `part-<id>-<index>-of-<count>`, where `<id>` is derived
/// from the inputs, so a re-run over the same inputs writes the same keys.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OutputName {
    id: String,
    index: usize,
    count: usize,
}

impl OutputName {
    fn stem(&self) -> String {
        format!("part-{}-{}-of-{}", self.id, self.index, self.count)
    }

    fn parse(key: &str) -> Option<Self> {
        let file = key
            .rsplit('/')
            .next()?
            .strip_suffix(FILE_EXTENSION)?
            .strip_prefix("part-")?;
        let mut fields = file.split('-');
        let (id, index, of, count) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if fields.next().is_some() || of != "of" {
            return None;
        }
        Some(Self {
            id: id.to_owned(),
            index: index.parse().ok()?,
            count: count.parse().ok()?,
        })
    }
}

/// Merges the part files of `table`'s partition `dt` into files of about `target_bytes`,
/// writing the new files first, then deleting the old ones.
///
/// Between those two steps a reader sees some rows twice, so compaction must run in its
/// safe window: from the daily job, before the similarity query, on dates before today in
/// Asia/Seoul, whose partitions the lake consumer no longer writes to. It therefore
/// refuses `dt` on or after today (by `now`, normally `Utc::now()`).
///
/// A crash is repaired by the next run over the same partition: compacted files carry the
/// list of files they replace, so a complete set of outputs finishes deleting its inputs,
/// and an incomplete set (the crash came while writing) is deleted, its inputs being all
/// still there. Compacted files are never inputs again, and their names derive from their
/// inputs, so repeated runs converge and every row ends up in exactly one file.
///
/// Holds the partition's small files in memory while merging.
pub async fn compact(
    lake: &dyn Lake,
    table: &LakeTable,
    dt: NaiveDate,
    target_bytes: u64,
    now: DateTime<Utc>,
) -> Result<CompactionReport, LakeError> {
    let today = partition_date(now);
    if dt >= today {
        return Err(LakeError::NotCompactable {
            table: table.prefix,
            dt,
            reason: format!("only dates before today ({today}, Asia/Seoul) are compacted: the lake consumer may still write to it"),
        });
    }
    let mut report = CompactionReport {
        recovered: recover(lake, table, dt).await?,
        ..Default::default()
    };
    let files: Vec<ObjectInfo> = list_parts(lake, table, dt)
        .await?
        .into_iter()
        .filter(|f| OutputName::parse(&f.key).is_none() && f.size < target_bytes)
        .collect();
    if files.len() < 2 {
        return Ok(report);
    }
    let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
    let mut batches = Vec::new();
    for file in &files {
        let bytes = lake
            .get(&file.key)
            .await?
            .ok_or_else(|| LakeError::NotCompactable {
                table: table.prefix,
                dt,
                reason: format!(
                    "{} vanished while compacting: is another compaction running?",
                    file.key
                ),
            })?;
        batches.extend(read_batches(table, &file.key, bytes)?);
    }
    let total_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let total_bytes: u64 = files.iter().map(|f| f.size).sum();
    let count = usize::try_from(total_bytes.div_ceil(target_bytes.max(1)))
        .unwrap_or(usize::MAX)
        .clamp(1, total_rows.max(1));
    let id = derived_id("compaction", keys.iter().copied());
    let metadata = vec![KeyValue::new(COMPACTED_FROM.to_owned(), keys.join("\n"))];
    for index in 0..count {
        let (start, end) = (total_rows * index / count, total_rows * (index + 1) / count);
        let slice = slice_rows(&batches, start, end);
        let key = table.file_key(
            dt,
            &OutputName {
                id: id.clone(),
                index,
                count,
            }
            .stem(),
        );
        lake.put(&key, encode_parquet(table, &slice, metadata.clone())?)
            .await?;
        report.outputs.push(key);
    }
    for key in &keys {
        lake.delete(key).await?;
    }
    report.inputs = keys.into_iter().map(str::to_owned).collect();
    report.rows = total_rows;
    Ok(report)
}

async fn list_parts(
    lake: &dyn Lake,
    table: &LakeTable,
    dt: NaiveDate,
) -> Result<Vec<ObjectInfo>, LakeError> {
    let mut files = lake.list(&table.partition_prefix(dt)).await?;
    files.retain(|f| f.key.ends_with(FILE_EXTENSION));
    Ok(files)
}

/// Finishes or undoes interrupted compactions of the partition; returns the keys removed.
async fn recover(
    lake: &dyn Lake,
    table: &LakeTable,
    dt: NaiveDate,
) -> Result<Vec<String>, LakeError> {
    let files = list_parts(lake, table, dt).await?;
    let mut groups: BTreeMap<(String, usize), Vec<(usize, String)>> = BTreeMap::new();
    for file in &files {
        if let Some(name) = OutputName::parse(&file.key) {
            groups
                .entry((name.id, name.count))
                .or_default()
                .push((name.index, file.key.clone()));
        }
    }
    let present: std::collections::BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    let mut removed = Vec::new();
    for ((_, count), outputs) in groups {
        let complete = outputs.len() == count && outputs.iter().all(|(index, _)| *index < count);
        if complete {
            let Some((_, first)) = outputs.first() else {
                continue;
            };
            let Some(bytes) = lake.get(first).await? else {
                continue;
            };
            for input in replaced_inputs(first, bytes)? {
                if present.contains(input.as_str()) {
                    lake.delete(&input).await?;
                    removed.push(input);
                }
            }
        } else {
            for (_, key) in outputs {
                lake.delete(&key).await?;
                removed.push(key);
            }
        }
    }
    Ok(removed)
}

fn replaced_inputs(key: &str, bytes: Bytes) -> Result<Vec<String>, LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    let listed = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == COMPACTED_FROM))
        .and_then(|e| e.value.clone())
        .ok_or_else(|| LakeError::InvalidKey {
            key: key.into(),
            reason: "compacted file without its input list",
        })?;
    Ok(listed.lines().map(str::to_owned).collect())
}

/// Reads a whole part file, checking it has the table's schema.
fn read_batches(table: &LakeTable, key: &str, bytes: Bytes) -> Result<Vec<RecordBatch>, LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    if builder.schema().fields() != table.schema().fields() {
        return Err(LakeError::UnexpectedSchema {
            key: key.into(),
            table: table.prefix,
        });
    }
    Ok(builder.build()?.collect::<Result<Vec<_>, _>>()?)
}

/// Rows `start..end` of the concatenation of `batches`, as zero-copy slices.
fn slice_rows(batches: &[RecordBatch], start: usize, end: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut offset = 0;
    for batch in batches {
        let (lo, hi) = (offset, offset + batch.num_rows());
        offset = hi;
        let (from, to) = (start.max(lo), end.min(hi));
        if from < to {
            out.push(batch.slice(from - lo, to - from));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_round_trip_and_batch_parts_are_not_outputs() {
        let name = OutputName {
            id: "ab12".into(),
            index: 1,
            count: 3,
        };
        let key = format!("top-tracks/dt=2026-11-24/{}.parquet", name.stem());
        assert_eq!(OutputName::parse(&key), Some(name));
        assert_eq!(
            OutputName::parse("top-tracks/dt=2026-11-24/part-0123abcd.parquet"),
            None
        );
        assert_eq!(
            OutputName::parse("top-tracks/dt=2026-11-24/part-a-1-to-2.parquet"),
            None
        );
    }
}
