//! The EMF documents of `encore_platform::metrics` against AWS's specification: its
//! published JSON schema plus the rules the schema cannot express (targets on the root
//! node, metric targets numeric, dimension targets strings, at most 100 metrics, no
//! members beyond those defined). The validator is first shown to accept AWS's own
//! example and to reject copies of it broken one rule at a time. Fixtures: see
//! `tests/fixtures/README.md`.

use encore_platform::metrics::{names, Metrics, NAMESPACE, SERVICE_DIMENSION};
use serde_json::Value;

const SCHEMA: &str = include_str!("fixtures/emf-schema.json");
const AWS_EXAMPLE: &str = include_str!("fixtures/emf-example.json");

/// Every rule violated by `doc`; empty when it is a valid EMF document.
fn violations(doc: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema fixture is JSON");
    let validator = jsonschema::draft7::new(&schema).expect("AWS's schema compiles");
    let mut problems: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("schema: {e} at {}", e.instance_path()))
        .collect();
    let Some(root) = doc.as_object() else {
        problems.push("the root is not an object".into());
        return problems;
    };
    let aws = &root["_aws"];
    let only = |value: &Value, allowed: &[&str], what: &str, problems: &mut Vec<String>| {
        for key in value.as_object().into_iter().flat_map(|o| o.keys()) {
            if !allowed.contains(&key.as_str()) {
                problems.push(format!(
                    "{what} has the member {key:?}, which the specification does not define"
                ));
            }
        }
    };
    only(
        aws,
        &["Timestamp", "CloudWatchMetrics"],
        "_aws",
        &mut problems,
    );
    for directive in aws["CloudWatchMetrics"].as_array().into_iter().flatten() {
        only(
            directive,
            &["Namespace", "Dimensions", "Metrics"],
            "a MetricDirective",
            &mut problems,
        );
        for set in directive["Dimensions"].as_array().into_iter().flatten() {
            for key in set.as_array().into_iter().flatten() {
                let key = key.as_str().unwrap_or_default();
                if !root.get(key).is_some_and(Value::is_string) {
                    problems.push(format!(
                        "dimension {key:?} has no string target on the root"
                    ));
                }
            }
        }
        let metrics = directive["Metrics"].as_array().cloned().unwrap_or_default();
        if metrics.len() > 100 {
            problems.push(format!("{} MetricDefinitions (at most 100)", metrics.len()));
        }
        for metric in &metrics {
            only(
                metric,
                &["Name", "Unit", "StorageResolution"],
                "a MetricDefinition",
                &mut problems,
            );
            let name = metric["Name"].as_str().unwrap_or_default();
            let numeric = match root.get(name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(values)) => {
                    values.len() <= 100 && values.iter().all(Value::is_number)
                }
                _ => false,
            };
            if !numeric {
                problems.push(format!("metric {name:?} has no numeric target on the root"));
            }
        }
    }
    problems
}

fn example() -> Value {
    serde_json::from_str(AWS_EXAMPLE).expect("example fixture is JSON")
}

#[test]
fn the_validator_accepts_aws_example() {
    assert_eq!(violations(&example()), Vec::<String>::new());
}

/// A named way to break a valid EMF document.
type Break = (&'static str, fn(&mut Value));

#[test]
fn the_validator_rejects_broken_copies() {
    let breaks: [Break; 7] = [
        ("no timestamp", |d| {
            d["_aws"].as_object_mut().unwrap().remove("Timestamp");
        }),
        ("timestamp as text", |d| {
            d["_aws"]["Timestamp"] = "2019-11-18".into()
        }),
        ("no namespace", |d| {
            d["_aws"]["CloudWatchMetrics"][0]
                .as_object_mut()
                .unwrap()
                .remove("Namespace");
        }),
        ("unknown unit", |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Hours".into()
        }),
        ("metric target missing", |d| {
            d.as_object_mut().unwrap().remove("time");
        }),
        ("metric target not numeric", |d| d["time"] = "100".into()),
        ("dimension target not a string", |d| {
            d["functionVersion"] = 1.into()
        }),
    ];
    for (what, break_it) in breaks {
        let mut doc = example();
        break_it(&mut doc);
        assert!(!violations(&doc).is_empty(), "{what}: accepted");
    }
}

#[test]
fn encore_documents_follow_the_specification() {
    let mut chat = Metrics::new("chat");
    chat.count(format!("{}Artist", names::ANSWER_PREFIX), 1)
        .count(names::CHAT_FAILED, 0)
        .count(names::CACHE_HIT, 1)
        .milliseconds(names::LATENCY, 1.75);
    let mut similarity = Metrics::new("similarity");
    similarity
        .seconds(names::QUERY_SECONDS, 4.95)
        .seconds(names::KNN_SECONDS, 3.2)
        .count(names::ARTISTS, 10_665)
        .count(names::RELATED_ROWS, 106_650);
    for metrics in [chat, similarity] {
        let mut line = Vec::new();
        metrics.emit_to(&mut line).unwrap();
        let text = String::from_utf8(line).unwrap();
        // One LogEvent: a JSON object with nothing before or after it but the newline.
        let doc: Value = serde_json::from_str(text.trim_end_matches('\n')).unwrap();
        assert_eq!(violations(&doc), Vec::<String>::new(), "{text}");
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([[SERVICE_DIMENSION]])
        );
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    }
}
