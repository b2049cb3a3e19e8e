//! The events contract: every sample in `events/samples/` is valid against its JSON Schema
//! and round-trips through the Rust types; the invalid samples are rejected by both; and
//! the schemas and the types name the same fields.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use encore_domain::events::{ArtistIngested, ArtistRequested, BusEvent, SimilarityRequested};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn read_json(relative: &str) -> Value {
    let path = events_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator(schema: &str) -> jsonschema::Validator {
    let schema = read_json(&format!("schemas/{schema}.schema.json"));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

fn schema_errors(schema: &str, instance: &Value) -> Vec<String> {
    validator(schema)
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect()
}

/// Valid against the schema, deserializes, and serializes back to the same JSON.
fn check_round_trip<E: BusEvent + std::fmt::Debug>(schema: &str, sample: &str) -> E {
    let value = read_json(sample);
    assert_eq!(
        schema_errors(schema, &value),
        Vec::<String>::new(),
        "{sample}"
    );
    let event: E = serde_json::from_value(value.clone()).expect(sample);
    let back = serde_json::to_value(&event).unwrap();
    assert_eq!(back, value, "{sample} changed in a round trip");
    assert!(schema_errors(schema, &back).is_empty());
    event
}

#[test]
fn event_samples_validate_and_round_trip() {
    check_round_trip::<ArtistRequested>("artist-requested", "samples/artist-requested.json");
    check_round_trip::<ArtistIngested>("artist-ingested", "samples/artist-ingested.json");
    check_round_trip::<SimilarityRequested>(
        "similarity-requested",
        "samples/similarity-requested.json",
    );
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

fn schema_keys(schema: &Value) -> BTreeSet<String> {
    keys(&schema["properties"])
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .expect("required list")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The schema's properties are exactly the fields the Rust type writes, and every
/// required property is one the type always writes.
fn check_same_fields(schema: &Value, written: &Value, what: &str) {
    assert_eq!(
        schema_keys(schema),
        keys(written),
        "{what}: schema and Rust type disagree"
    );
    assert!(required(schema).is_subset(&keys(written)), "{what}");
}

#[test]
fn schemas_and_types_name_the_same_fields() {
    let requested: ArtistRequested =
        serde_json::from_value(read_json("samples/artist-requested.json")).unwrap();
    check_same_fields(
        &read_json("schemas/artist-requested.schema.json"),
        &serde_json::to_value(&requested).unwrap(),
        "ArtistRequested",
    );
    let similarity: SimilarityRequested =
        serde_json::from_value(read_json("samples/similarity-requested.json")).unwrap();
    check_same_fields(
        &read_json("schemas/similarity-requested.schema.json"),
        &serde_json::to_value(&similarity).unwrap(),
        "SimilarityRequested",
    );
    let schema = read_json("schemas/artist-ingested.schema.json");
    let ingested: ArtistIngested =
        serde_json::from_value(read_json("samples/artist-ingested.json")).unwrap();
    let written = serde_json::to_value(&ingested).unwrap();
    check_same_fields(&schema, &written, "ArtistIngested");
    check_same_fields(&schema["$defs"]["artist"], &written["artist"], "Artist");
    check_same_fields(&schema["$defs"]["track"], &written["tracks"][0], "Track");
    check_same_fields(
        &schema["$defs"]["audio_features"],
        &written["features"][0],
        "AudioFeatures",
    );
    check_same_fields(
        &schema["$defs"]["release"],
        &written["releases"][0],
        "Release",
    );
}

#[test]
fn events_from_before_releases_still_decode() {
    let mut value = read_json("samples/artist-ingested.json");
    value.as_object_mut().unwrap().remove("releases");
    assert!(schema_errors("artist-ingested", &value).is_empty());
    let event: ArtistIngested = serde_json::from_value(value).unwrap();
    assert!(event.releases.is_empty());
}

#[test]
fn events_from_before_feature_provenance_still_decode() {
    let mut value = read_json("samples/artist-ingested.json");
    for features in value["features"].as_array_mut().unwrap() {
        features.as_object_mut().unwrap().remove("source");
    }
    for track in value["tracks"].as_array_mut().unwrap() {
        track.as_object_mut().unwrap().remove("features_source");
    }
    assert!(schema_errors("artist-ingested", &value).is_empty());
    let event: ArtistIngested = serde_json::from_value(value).unwrap();
    assert!(event
        .features
        .iter()
        .all(|f| f.source == encore_domain::FeatureSource::Spotify));
    assert!(event.tracks.iter().all(|t| t.features_source.is_none()));
}

#[test]
fn sample_carries_both_feature_sources() {
    let event: ArtistIngested =
        serde_json::from_value(read_json("samples/artist-ingested.json")).unwrap();
    let sources: BTreeSet<&str> = event.features.iter().map(|f| f.source.as_str()).collect();
    assert_eq!(sources, BTreeSet::from(["reccobeats", "spotify"]));
    let labels: Vec<&str> = event
        .tracks
        .iter()
        .map(|t| encore_domain::FeatureSource::label(t.features_source))
        .collect();
    assert_eq!(labels, ["reccobeats", "spotify", "missing"]);
    let mut marked = event.tracks.clone();
    encore_domain::AudioFeatures::mark_sources(&mut marked, &event.features);
    assert_eq!(
        marked, event.tracks,
        "the tracks' sources agree with the features'"
    );
    let mut value = read_json("samples/artist-ingested.json");
    value["features"][0]["source"] = "lastfm".into();
    assert!(!schema_errors("artist-ingested", &value).is_empty());
    assert!(!rust_accepts::<ArtistIngested>(&value));
}

fn rust_accepts<E: DeserializeOwned>(value: &Value) -> bool {
    serde_json::from_value::<E>(value.clone()).is_ok()
}

#[test]
fn invalid_samples_are_rejected_by_schema_and_type() {
    let dir = events_dir().join("samples/invalid");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let value = read_json(&format!("samples/invalid/{name}"));
        let (schema, accepted) = if name.starts_with("artist-requested") {
            ("artist-requested", rust_accepts::<ArtistRequested>(&value))
        } else if name.starts_with("artist-ingested") {
            ("artist-ingested", rust_accepts::<ArtistIngested>(&value))
        } else if name.starts_with("similarity-requested") {
            (
                "similarity-requested",
                rust_accepts::<SimilarityRequested>(&value),
            )
        } else {
            panic!("{name}: no schema for this invalid sample");
        };
        assert!(
            !schema_errors(schema, &value).is_empty(),
            "{name} passed the schema"
        );
        assert!(!accepted, "{name} passed the Rust type");
        seen += 1;
    }
    assert!(seen >= 2, "expected invalid samples in {}", dir.display());
}

#[test]
fn api_gateway_sample_wraps_the_skill_request() {
    let request: ApiGatewayV2httpRequest =
        serde_json::from_value(read_json("samples/apigw-v2-skill-request.json")).unwrap();
    assert_eq!(request.raw_path.as_deref(), Some("/skill"));
    let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(body, read_json("samples/kakao-skill-request.json"));
}

#[test]
fn kakao_samples_have_what_the_skill_requires() {
    for sample in [
        "samples/kakao-skill-request.json",
        "samples/kakao-skill-request-callback.json",
    ] {
        let value = read_json(sample);
        assert!(value["userRequest"]["utterance"].is_string(), "{sample}");
        assert!(value["userRequest"]["user"]["id"].is_string(), "{sample}");
    }
    let callback = read_json("samples/kakao-skill-request-callback.json");
    assert!(callback["userRequest"]["callbackUrl"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
}

#[test]
fn scheduled_event_sample_parses() {
    let event: EventBridgeEvent<Value> =
        serde_json::from_value(read_json("samples/eventbridge-scheduled.json")).unwrap();
    assert_eq!(event.detail_type, "Scheduled Event");
    let time = event.time.expect("scheduled events carry a time");
    assert_eq!(time.format("%H:%M").to_string(), "18:00");
}
