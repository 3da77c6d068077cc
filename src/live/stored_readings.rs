//! Every reading the demo fleet produces survives the ops store unchanged. It lives here,
//! beside the room, because the demo (above the sources) is what makes the readings.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::Reading;
use crate::sources::stored::{FORMAT, Newer, StoredReading, Unreadable};
use crate::sources::{alertmanager, edge, elasticsearch, host, postgres, redis, sidekiq};

/// Every reading the demo fleet produces, at moments spread over its script, so every
/// kind is seen calm and in trouble.
fn demo_readings() -> Vec<(String, Arc<dyn Reading>)> {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    (0..12)
        .flat_map(|i| crate::demo::readings_at(Duration::from_secs(i * 97), now))
        .map(|(meta, r)| (meta.kind.to_string(), r))
        .collect()
}

/// Where two JSON values differ, by path, so a failure names the field.
fn differ(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let null = Value::Null;
                let (l, r) = (x.get(key).unwrap_or(&null), y.get(key).unwrap_or(&null));
                differ(l, r, &format!("{path}.{key}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                differ(l, r, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

#[test]
fn every_demo_reading_survives_the_store_unchanged() {
    let readings = demo_readings();
    let mut kinds = std::collections::BTreeSet::new();
    for (kind, reading) in &readings {
        let stored = StoredReading::of(kind, reading.as_ref());
        let text = serde_json::to_string(&stored).expect("encodes");
        let back: StoredReading = serde_json::from_str(&text).expect("decodes");
        let decoded = back.decode();
        assert!(
            decoded.as_any().downcast_ref::<Unreadable>().is_none()
                && decoded.as_any().downcast_ref::<Newer>().is_none(),
            "{kind}: {:?}",
            decoded.detail()
        );
        let mut differences = Vec::new();
        differ(&reading.to_json(), &decoded.to_json(), "", &mut differences);
        assert!(differences.is_empty(), "{kind}: {differences:?}");
        assert_eq!(decoded.detail(), reading.detail(), "{kind}: detail");
        assert_eq!(decoded.figures(), reading.figures(), "{kind}: figures");
        assert_eq!(decoded.findings(), reading.findings(), "{kind}: findings");
        assert_eq!(decoded.summary(), reading.summary(), "{kind}: summary");
        assert_eq!(decoded.key_figure(), reading.key_figure(), "{kind}");
        kinds.insert(kind.clone());
    }
    let expected = [
        alertmanager::KIND,
        edge::KIND,
        elasticsearch::KIND,
        host::KIND,
        postgres::KIND,
        redis::KIND,
        sidekiq::KIND,
    ];
    assert!(
        expected.iter().all(|k| kinds.contains(*k)),
        "the demo covers {kinds:?}"
    );
}

#[test]
fn a_newer_format_says_so_instead_of_drawing() {
    let (kind, reading) = demo_readings().remove(0);
    let mut stored = StoredReading::of(&kind, reading.as_ref());
    stored.format = FORMAT + 1;
    let decoded = stored.decode();
    assert!(decoded.figures().is_empty());
    assert_eq!(decoded.summary(), "collector is newer");
    assert!(
        decoded.findings()[0].message.contains("collector is newer"),
        "{:?}",
        decoded.findings()
    );
    let unknown_kind = StoredReading {
        format: FORMAT,
        kind: "kafka".into(),
        body: serde_json::json!({}),
    };
    assert_eq!(unknown_kind.decode().summary(), "collector is newer");
}

#[test]
fn a_damaged_body_is_unreadable_not_half_drawn() {
    let stored = StoredReading {
        format: FORMAT,
        kind: postgres::KIND.into(),
        body: serde_json::json!({"server": "\u{1b}[2J"}),
    };
    let decoded = stored.decode();
    assert!(decoded.figures().is_empty());
    assert_eq!(decoded.summary(), "stored reading unreadable");
}
