//! The bus's wire contract from the queue's side: the SQS batch samples in
//! `events/samples/` carry bodies whose envelopes decode into the events, with details
//! valid against the events' JSON Schemas.

use std::path::{Path, PathBuf};

use aws_lambda_events::event::sqs::SqsEvent;
use encore_domain::events::{ArtistIngested, ArtistRequested, BusEvent};
use encore_messaging::{decode, DecodeError};
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read_json(relative: &str) -> Value {
    let path = events_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema_errors(schema: &str, instance: &Value) -> Vec<String> {
    let schema = read_json(&format!("schemas/{schema}.schema.json"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect()
}

fn check_sqs_batch<E: BusEvent>(sample: &str, schema: &str) -> usize {
    let batch: SqsEvent = serde_json::from_value(read_json(sample)).expect(sample);
    assert!(!batch.records.is_empty());
    for record in &batch.records {
        let body = record.body.as_deref().expect("body");
        let envelope: Value = serde_json::from_str(body).unwrap();
        assert!(
            schema_errors(schema, &envelope["detail"]).is_empty(),
            "{sample}"
        );
        decode::<E>(body).unwrap_or_else(|e| panic!("{sample}: {e}"));
    }
    batch.records.len()
}

#[test]
fn sqs_batches_carry_decodable_bus_events() {
    assert_eq!(
        check_sqs_batch::<ArtistRequested>(
            "samples/sqs-batch-artist-requested.json",
            "artist-requested"
        ),
        2
    );
    assert_eq!(
        check_sqs_batch::<ArtistIngested>(
            "samples/sqs-batch-artist-ingested.json",
            "artist-ingested"
        ),
        1
    );
    // A consumer of one event type rejects the other permanently.
    let batch: SqsEvent =
        serde_json::from_value(read_json("samples/sqs-batch-artist-ingested.json")).unwrap();
    let body = batch.records[0].body.as_deref().unwrap();
    assert!(matches!(
        decode::<ArtistRequested>(body),
        Err(DecodeError::WrongType { .. })
    ));
}
