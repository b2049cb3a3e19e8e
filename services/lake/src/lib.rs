//! The lake service: appends ArtistIngested events to the data lake as Parquet.
