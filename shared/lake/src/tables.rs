//! The lake's tables, each defined once: its key prefix, its SQL name, its columns with
//! their Arrow type and the Glue (Hive) type they map to. The Parquet writer, the Glue DDL
//! and the DataFusion listing table are all built from these definitions, so they cannot
//! drift apart. Adding a table is adding one [`LakeTable`] constant and listing it in
//! [`ALL_TABLES`].

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
#[cfg(feature = "datafusion")]
use datafusion::datasource::file_format::parquet::ParquetFormat;
#[cfg(feature = "datafusion")]
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
#[cfg(feature = "datafusion")]
use datafusion::error::DataFusionError;
#[cfg(feature = "datafusion")]
use datafusion::prelude::SessionContext;

/// The partition column of every lake table: the event's date in Asia/Seoul, `YYYY-MM-DD`.
pub const PARTITION_COLUMN: &str = "dt";
/// The `chrono` format of [`PARTITION_COLUMN`] values.
pub const PARTITION_DATE_FORMAT: &str = "%Y-%m-%d";
/// The same format as Athena's partition projection spells it.
const PROJECTION_DATE_FORMAT: &str = "yyyy-MM-dd";
/// Extension of every data file in the lake.
pub const FILE_EXTENSION: &str = ".parquet";
/// The time zone whose calendar day names a partition: encore's service time zone.
pub const PARTITION_TZ: chrono_tz::Tz = encore_domain::SERVICE_TZ;

/// The type of a lake column: one Arrow type and the Glue type it is declared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text; Glue `string`.
    Text,
    /// 32-bit signed integer; Glue `int`.
    Int32,
    /// 64-bit signed integer; Glue `bigint`.
    Int64,
    /// 64-bit float; Glue `double`.
    Float64,
    /// An instant, milliseconds since the epoch, UTC; Glue `timestamp`.
    TimestampMillis,
}

/// The time zone stored with [`ColumnType::TimestampMillis`] columns.
pub const TIMESTAMP_TZ: &str = "UTC";

impl ColumnType {
    /// The Arrow type the writer produces and readers declare.
    pub fn arrow_type(self) -> DataType {
        match self {
            Self::Text => DataType::Utf8,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float64 => DataType::Float64,
            Self::TimestampMillis => {
                DataType::Timestamp(TimeUnit::Millisecond, Some(TIMESTAMP_TZ.into()))
            }
        }
    }

    /// The Glue / Hive type Athena reads the Parquet column as.
    pub fn glue_type(self) -> &'static str {
        match self {
            Self::Text => "string",
            Self::Int32 => "int",
            Self::Int64 => "bigint",
            Self::Float64 => "double",
            Self::TimestampMillis => "timestamp",
        }
    }
}

/// One column of a lake table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    /// Whether the column may hold nulls (Glue does not record this; Arrow does).
    pub nullable: bool,
}

const fn required(name: &'static str, kind: ColumnType) -> Column {
    Column {
        name,
        kind,
        nullable: false,
    }
}

const fn optional(name: &'static str, kind: ColumnType) -> Column {
    Column {
        name,
        kind,
        nullable: true,
    }
}

/// A lake table: Parquet files under `<prefix>/dt=YYYY-MM-DD/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LakeTable {
    /// First segment of every object key of the table (`top-tracks`).
    pub prefix: &'static str,
    /// The table's name in SQL (Glue catalog and DataFusion), e.g. `top_tracks`.
    pub sql_name: &'static str,
    /// The data columns, in file order (the partition column is not stored in files).
    pub columns: &'static [Column],
}

/// Each artist's top tracks, one row per track per ingest (snapshot).
pub const TOP_TRACKS: LakeTable = LakeTable {
    prefix: "top-tracks",
    sql_name: "top_tracks",
    columns: &[
        required("artist_id", ColumnType::Text),
        required("track_id", ColumnType::Text),
        required("name", ColumnType::Text),
        optional("popularity", ColumnType::Int32),
        optional("album_name", ColumnType::Text),
        optional("image_url", ColumnType::Text),
        required("rank", ColumnType::Int32),
        // When ingest fetched the snapshot (the event's occurred_at): with `event_id` it
        // names the snapshot, so the similarity SQL can pick each artist's latest one.
        required("fetched_at", ColumnType::TimestampMillis),
        required("event_id", ColumnType::Text),
    ],
};

/// Audio features of the tracks ingested, one row per track per ingest; tracks without
/// features have no row.
pub const AUDIO_FEATURES: LakeTable = LakeTable {
    prefix: "audio-features",
    sql_name: "audio_features",
    columns: &[
        required("track_id", ColumnType::Text),
        required("danceability", ColumnType::Float64),
        required("energy", ColumnType::Float64),
        required("key", ColumnType::Int32),
        required("loudness", ColumnType::Float64),
        required("mode", ColumnType::Int32),
        required("speechiness", ColumnType::Float64),
        required("acousticness", ColumnType::Float64),
        required("instrumentalness", ColumnType::Float64),
        required("liveness", ColumnType::Float64),
        required("valence", ColumnType::Float64),
        required("tempo", ColumnType::Float64),
        optional("duration_ms", ColumnType::Int64),
        optional("time_signature", ColumnType::Int32),
        // Lets the SQL keep one row per track (the latest) when a track was ingested twice.
        required("fetched_at", ColumnType::TimestampMillis),
        // Who measured the features: `spotify` or `reccobeats` (FeatureSource::as_str);
        // null in files written before provenance was kept, which all came from Spotify.
        // Tracks whose features are missing have no row here.
        optional("source", ColumnType::Text),
    ],
};

/// Each artist's latest releases, one row per release per ingest (snapshot), in the
/// event's order: `position` 1 is the newest. The release date is text exactly as precise
/// as Spotify knows it (`2021`, `2021-03`, `2021-03-05`), never padded to a day, with its
/// precision beside it, so SQL can filter on precision without parsing.
pub const RELEASES: LakeTable = LakeTable {
    prefix: "releases",
    sql_name: "releases",
    columns: &[
        required("artist_id", ColumnType::Text),
        required("album_id", ColumnType::Text),
        required("name", ColumnType::Text),
        // Spotify's `album_type`: `album`, `single` or `compilation` (ingest keeps only
        // the artist's own albums and singles).
        required("album_type", ColumnType::Text),
        required("release_date", ColumnType::Text),
        // `year`, `month` or `day`.
        required("release_date_precision", ColumnType::Text),
        required("position", ColumnType::Int32),
        optional("image_url", ColumnType::Text),
        optional("spotify_url", ColumnType::Text),
        optional("total_tracks", ColumnType::Int32),
        // Name the snapshot, as in `top-tracks`: an artist's latest releases are the rows
        // of its latest (`fetched_at`, `event_id`).
        required("fetched_at", ColumnType::TimestampMillis),
        required("event_id", ColumnType::Text),
    ],
};

/// Every lake table.
pub const ALL_TABLES: [LakeTable; 3] = [TOP_TRACKS, AUDIO_FEATURES, RELEASES];

impl LakeTable {
    /// The Arrow schema of the table's files (without the partition column).
    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.kind.arrow_type(), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// `(name, glue type)` of each data column, in order: what the SAM template declares.
    pub fn glue_columns(&self) -> Vec<(&'static str, &'static str)> {
        self.columns
            .iter()
            .map(|c| (c.name, c.kind.glue_type()))
            .collect()
    }

    /// The key prefix of one day's partition: `top-tracks/dt=2026-11-25/`.
    pub fn partition_prefix(&self, dt: NaiveDate) -> String {
        format!(
            "{}/{}={}/",
            self.prefix,
            PARTITION_COLUMN,
            dt.format(PARTITION_DATE_FORMAT)
        )
    }

    /// The key of a data file named `<file_stem>.parquet` in one day's partition.
    pub fn file_key(&self, dt: NaiveDate, file_stem: &str) -> String {
        format!("{}{file_stem}{FILE_EXTENSION}", self.partition_prefix(dt))
    }

    /// The Athena / Glue DDL of the table over `location` (`s3://bucket/` or
    /// `s3://bucket/some/root/`), with partition projection on `dt` from `first_day` to one
    /// day past now (Athena's `NOW` is UTC, and Seoul's today is up to 9 hours ahead), so
    /// no `MSCK REPAIR TABLE` is ever needed.
    pub fn create_table_ddl(&self, database: &str, location: &str, first_day: NaiveDate) -> String {
        let root = location.trim_end_matches('/');
        let table_location = format!("{root}/{}/", self.prefix);
        let columns: Vec<String> = self
            .glue_columns()
            .into_iter()
            .map(|(name, glue)| format!("  `{name}` {glue}"))
            .collect();
        format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table}` (\n{columns}\n)\n\
             PARTITIONED BY (`{dt}` string)\n\
             STORED AS PARQUET\n\
             LOCATION '{table_location}'\n\
             TBLPROPERTIES (\n  \
             'parquet.compression'='SNAPPY',\n  \
             'projection.enabled'='true',\n  \
             'projection.{dt}.type'='date',\n  \
             'projection.{dt}.format'='{PROJECTION_DATE_FORMAT}',\n  \
             'projection.{dt}.range'='{first},NOW+1DAYS',\n  \
             'projection.{dt}.interval'='1',\n  \
             'projection.{dt}.interval.unit'='DAYS',\n  \
             'storage.location.template'='{table_location}{dt}=${{{dt}}}/'\n)",
            table = self.sql_name,
            columns = columns.join(",\n"),
            dt = PARTITION_COLUMN,
            first = first_day.format(PARTITION_DATE_FORMAT),
        )
    }

    #[cfg(feature = "datafusion")]
    /// Registers the table in DataFusion as a listing table over `root_url` (a lake
    /// directory as `file:///…/` or any URL DataFusion's object stores know), with this
    /// schema and `dt` as a string partition column: the embedded twin of the Glue table.
    pub async fn register(
        &self,
        ctx: &SessionContext,
        root_url: &str,
    ) -> Result<(), DataFusionError> {
        let url = ListingTableUrl::parse(format!(
            "{}/{}/",
            root_url.trim_end_matches('/'),
            self.prefix
        ))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(FILE_EXTENSION)
            .with_table_partition_cols(vec![(PARTITION_COLUMN.to_owned(), DataType::Utf8)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(self.schema());
        ctx.register_table(self.sql_name, Arc::new(ListingTable::try_new(config)?))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_keys_follow_the_layout() {
        for table in ALL_TABLES {
            let mut names: Vec<_> = table.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns.len(), "{}", table.prefix);
            assert!(!names.contains(&PARTITION_COLUMN));
        }
        let dt = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(
            TOP_TRACKS.file_key(dt, "part-x"),
            "top-tracks/dt=2026-11-25/part-x.parquet"
        );
        assert_eq!(
            AUDIO_FEATURES.partition_prefix(dt),
            "audio-features/dt=2026-11-25/"
        );
    }

    #[test]
    fn ddl_declares_every_column_and_projection() {
        let ddl = TOP_TRACKS.create_table_ddl(
            "encore",
            "s3://lake-bucket/",
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        assert!(ddl.starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS `encore`.`top_tracks` (\n  `artist_id` string,"), "{ddl}");
        assert!(
            ddl.contains("  `rank` int,\n  `fetched_at` timestamp,\n  `event_id` string\n)"),
            "{ddl}"
        );
        assert!(ddl.contains("PARTITIONED BY (`dt` string)\nSTORED AS PARQUET\nLOCATION 's3://lake-bucket/top-tracks/'"), "{ddl}");
        assert!(ddl.contains("'projection.enabled'='true'"));
        assert!(ddl.contains("'projection.dt.type'='date'"));
        assert!(ddl.contains("'projection.dt.format'='yyyy-MM-dd'"));
        assert!(ddl.contains("'projection.dt.range'='2026-01-01,NOW+1DAYS'"));
        assert!(
            ddl.contains("'storage.location.template'='s3://lake-bucket/top-tracks/dt=${dt}/'"),
            "{ddl}"
        );
        let features = AUDIO_FEATURES.create_table_ddl(
            "encore",
            "s3://b",
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        for (name, glue) in AUDIO_FEATURES.glue_columns() {
            assert!(features.contains(&format!("`{name}` {glue}")), "{name}");
        }
        assert!(features.contains("`duration_ms` bigint"));
        assert!(features.contains("`tempo` double"));
    }

    #[test]
    fn releases_ddl_keeps_dates_as_text_at_their_precision() {
        let ddl = RELEASES.create_table_ddl(
            "encore",
            "s3://lake-bucket",
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        let expected_columns = "CREATE EXTERNAL TABLE IF NOT EXISTS `encore`.`releases` (\n  \
             `artist_id` string,\n  `album_id` string,\n  `name` string,\n  \
             `album_type` string,\n  `release_date` string,\n  \
             `release_date_precision` string,\n  `position` int,\n  `image_url` string,\n  \
             `spotify_url` string,\n  `total_tracks` int,\n  `fetched_at` timestamp,\n  \
             `event_id` string\n)\nPARTITIONED BY (`dt` string)\nSTORED AS PARQUET\n\
             LOCATION 's3://lake-bucket/releases/'\n";
        assert!(ddl.starts_with(expected_columns), "{ddl}");
        assert!(
            ddl.contains("'storage.location.template'='s3://lake-bucket/releases/dt=${dt}/'"),
            "{ddl}"
        );
        assert!(
            ddl.contains("'projection.dt.range'='2026-01-01,NOW+1DAYS'"),
            "{ddl}"
        );
        assert_eq!(
            RELEASES.partition_prefix(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
            "releases/dt=2026-11-25/"
        );
        let nullable: Vec<&str> = RELEASES
            .columns
            .iter()
            .filter(|c| c.nullable)
            .map(|c| c.name)
            .collect();
        assert_eq!(nullable, ["image_url", "spotify_url", "total_tracks"]);
    }
}
