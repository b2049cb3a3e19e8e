//! The data lake: table schemas, Parquet writing, object stores (S3, local directory) and
//! lake SQL (Athena, DataFusion).

pub mod query;
