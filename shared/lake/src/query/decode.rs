//! The one decoder of [`PROFILE_SQL`](super::PROFILE_SQL) results: Arrow record batches,
//! columns found by name, into [`ProfileRow`]s. DataFusion hands its result over as
//! batches; Athena's UNLOAD writes Parquet files, which the `parquet` crate reads into
//! batches of the same shape.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use encore_domain::FEATURE_NAMES;

use super::{ProfileRow, QueryError, ARTIST_ID_COLUMN, TRACK_COUNT_COLUMN};

/// Where each column of [`ProfileRow`] is in a result, found by name.
#[derive(Debug, Clone, Copy)]
struct ProfileLayout {
    artist_id: usize,
    track_count: usize,
    features: [usize; 9],
}

impl ProfileLayout {
    /// Finds every needed column among `names` (matched case-insensitively; extra columns
    /// are ignored).
    fn locate<S: AsRef<str>>(names: &[S]) -> Result<Self, QueryError> {
        let find = |wanted: &'static str| {
            names
                .iter()
                .position(|name| name.as_ref().eq_ignore_ascii_case(wanted))
                .ok_or(QueryError::MissingColumn(wanted))
        };
        let mut features = [0; 9];
        for (slot, name) in features.iter_mut().zip(FEATURE_NAMES) {
            *slot = find(name)?;
        }
        Ok(Self {
            artist_id: find(ARTIST_ID_COLUMN)?,
            track_count: find(TRACK_COUNT_COLUMN)?,
            features,
        })
    }
}

/// Converts a count from the engine (a `bigint`) into [`ProfileRow::track_count`].
fn track_count_from(row: usize, count: i64) -> Result<u32, QueryError> {
    u32::try_from(count).map_err(|_| QueryError::BadValue {
        row,
        column: TRACK_COUNT_COLUMN,
        reason: format!("{count} is not a track count"),
    })
}

/// Appends the rows of one result batch to `out`, reading columns by name and casting
/// them to the types [`ProfileRow`] holds. What each engine writes reads the same: the id
/// as `Utf8`, `LargeUtf8`, `Utf8View` or (un-annotated Parquet) `Binary`; the count as any
/// integer (Athena's `bigint` is `Int64`); the means as `Float64` (Athena's `double`) or
/// `Float32`. `row` numbers in errors count from the first row appended to `out`.
pub(super) fn decode_batch(
    batch: &RecordBatch,
    out: &mut Vec<ProfileRow>,
) -> Result<(), QueryError> {
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
    let features: Vec<_> = features
        .iter()
        .map(|array| array.as_primitive::<Float64Type>())
        .collect();
    out.reserve(batch.num_rows());
    for i in 0..batch.num_rows() {
        let row = out.len();
        let null = |column: &'static str| QueryError::BadValue {
            row,
            column,
            reason: "NULL".into(),
        };
        if ids.is_null(i) {
            return Err(null(ARTIST_ID_COLUMN));
        }
        if counts.is_null(i) {
            return Err(null(TRACK_COUNT_COLUMN));
        }
        let mut values = [0.0; 9];
        for ((value, array), column) in values.iter_mut().zip(&features).zip(FEATURE_NAMES) {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BinaryArray, Float32Array, Float64Array, Int32Array, Int64Array,
        LargeStringArray, StringViewArray,
    };
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn layout_is_found_by_name_in_any_order() {
        let mut names: Vec<String> = FEATURE_NAMES
            .iter()
            .rev()
            .map(|s| s.to_uppercase())
            .collect();
        names.push("track_count".into());
        names.insert(3, "artist_id".into());
        let layout = ProfileLayout::locate(&names).unwrap();
        assert_eq!(layout.artist_id, 3);
        assert_eq!(layout.track_count, 10);
        assert_eq!(
            layout.features[0], 9,
            "danceability is last of the reversed features"
        );
        assert_eq!(layout.features[8], 0, "tempo is first");
        names.retain(|n| n != "ENERGY");
        assert!(matches!(
            ProfileLayout::locate(&names),
            Err(QueryError::MissingColumn("energy"))
        ));
    }

    #[test]
    fn counts_must_fit() {
        assert_eq!(track_count_from(0, 7).unwrap(), 7);
        assert!(matches!(
            track_count_from(4, -1),
            Err(QueryError::BadValue { row: 4, .. })
        ));
    }

    /// A two-row batch: the id and count columns as given, then the nine features, row
    /// `r`'s feature `i` being `r + i / 4`.
    fn batch(id: ArrayRef, count: ArrayRef, features_f32: bool) -> RecordBatch {
        let mut fields = vec![
            Field::new(ARTIST_ID_COLUMN, id.data_type().clone(), true),
            Field::new(TRACK_COUNT_COLUMN, count.data_type().clone(), true),
        ];
        let mut columns = vec![id, count];
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            let values = [0.0, 1.0].map(|r: f64| r + i as f64 / 4.0);
            let column: ArrayRef = if features_f32 {
                Arc::new(Float32Array::from(values.map(|v| v as f32).to_vec()))
            } else {
                Arc::new(Float64Array::from(values.to_vec()))
            };
            fields.push(Field::new(*name, column.data_type().clone(), true));
            columns.push(column);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn string_integer_and_float_variants_read_the_same() {
        let expected: Vec<ProfileRow> = (0..2)
            .map(|r| ProfileRow {
                artist_id: format!("a{r}"),
                track_count: r as u32 + 3,
                features: std::array::from_fn(|i| r as f64 + i as f64 / 4.0),
            })
            .collect();
        let ids: [ArrayRef; 3] = [
            Arc::new(LargeStringArray::from(vec!["a0", "a1"])),
            Arc::new(StringViewArray::from(vec!["a0", "a1"])),
            Arc::new(BinaryArray::from(vec![b"a0".as_slice(), b"a1".as_slice()])),
        ];
        for id in ids {
            let kind = id.data_type().clone();
            let mut out = Vec::new();
            decode_batch(
                &batch(id, Arc::new(Int32Array::from(vec![3, 4])), true),
                &mut out,
            )
            .unwrap();
            assert_eq!(out, expected, "{kind}");
        }
        let mut out = vec![expected[0].clone()];
        let err = decode_batch(
            &batch(
                Arc::new(LargeStringArray::from(vec![Some("a0"), None])),
                Arc::new(Int64Array::from(vec![3, 4])),
                false,
            ),
            &mut out,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                QueryError::BadValue {
                    row: 2,
                    column: ARTIST_ID_COLUMN,
                    ..
                }
            ),
            "rows count on from those already read: {err:?}"
        );
    }
}
