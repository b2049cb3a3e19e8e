//! Lake SQL: one SQL text run on Athena in AWS and on DataFusion in the embedded default.
