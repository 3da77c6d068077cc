//! `_cluster/health`, `_cat/indices?format=json` and `/` as Elasticsearch and OpenSearch
//! send them, into a reading. Pure, so every shape (and every broken one) is tested without
//! a cluster.

use serde::Deserialize;

use super::{ClusterStatus, ElasticsearchReading, IndexInfo};
use crate::sanitize::sanitize_truncated;

/// More indices than this are summarised by the worst ones; Mastodon makes about five.
pub const MAX_INDICES: usize = 200;

#[derive(Deserialize)]
struct Health {
    cluster_name: String,
    status: String,
    #[serde(default)]
    number_of_nodes: u32,
    #[serde(default)]
    number_of_data_nodes: u32,
    #[serde(default)]
    active_primary_shards: u32,
    #[serde(default)]
    active_shards: u32,
    #[serde(default)]
    relocating_shards: u32,
    #[serde(default)]
    initializing_shards: u32,
    #[serde(default)]
    unassigned_shards: u32,
    #[serde(default)]
    number_of_pending_tasks: u32,
    #[serde(default)]
    active_shards_percent_as_number: f64,
}

fn status(word: &str) -> Option<ClusterStatus> {
    match word.to_ascii_lowercase().as_str() {
        "green" => Some(ClusterStatus::Green),
        "yellow" => Some(ClusterStatus::Yellow),
        "red" => Some(ClusterStatus::Red),
        _ => None,
    }
}

/// The reading from `_cluster/health`, with no indices yet.
pub fn parse_cluster_health(body: &[u8]) -> Result<ElasticsearchReading, String> {
    let h: Health = serde_json::from_slice(body).map_err(|e| {
        format!(
            "_cluster/health is not the JSON Elasticsearch sends ({e}); it starts {:?}",
            sanitize_truncated(&String::from_utf8_lossy(&body[..body.len().min(60)]), 60)
        )
    })?;
    let status = status(&h.status).ok_or_else(|| {
        format!(
            "_cluster/health says status {:?}, not green, yellow or red",
            sanitize_truncated(&h.status, 20)
        )
    })?;
    Ok(ElasticsearchReading {
        cluster_name: sanitize_truncated(&h.cluster_name, 80),
        version: None,
        status,
        nodes: h.number_of_nodes,
        data_nodes: h.number_of_data_nodes,
        active_primary_shards: h.active_primary_shards,
        active_shards: h.active_shards,
        relocating_shards: h.relocating_shards,
        initializing_shards: h.initializing_shards,
        unassigned_shards: h.unassigned_shards,
        pending_tasks: h.number_of_pending_tasks,
        active_shards_pct: h.active_shards_percent_as_number,
        indices: Vec::new(),
        indices_error: None,
    })
}

#[derive(Deserialize)]
struct CatIndex {
    index: Option<String>,
    /// `null` for a closed index.
    health: Option<String>,
    #[serde(rename = "docs.count")]
    docs: Option<String>,
    #[serde(rename = "store.size")]
    size: Option<String>,
}

/// `_cat/indices?format=json&bytes=b`: the worst indices first, then the biggest.
pub fn parse_cat_indices(body: &[u8]) -> Result<Vec<IndexInfo>, String> {
    let rows: Vec<CatIndex> = serde_json::from_slice(body)
        .map_err(|e| format!("_cat/indices is not the JSON list Elasticsearch sends ({e})"))?;
    let mut indices: Vec<IndexInfo> = rows
        .into_iter()
        .filter_map(|row| {
            Some(IndexInfo {
                name: sanitize_truncated(&row.index?, 80),
                // A closed index has no health; it serves no searches, like a red one.
                status: row
                    .health
                    .as_deref()
                    .and_then(status)
                    .unwrap_or(ClusterStatus::Red),
                docs: row.docs.and_then(|d| d.parse().ok()).unwrap_or(0),
                size_bytes: row.size.and_then(|s| s.parse().ok()).unwrap_or(0),
            })
        })
        .collect();
    indices.sort_by(|a, b| {
        b.status
            .level()
            .cmp(&a.status.level())
            .then(b.size_bytes.cmp(&a.size_bytes))
            .then_with(|| a.name.cmp(&b.name))
    });
    indices.truncate(MAX_INDICES);
    Ok(indices)
}

/// `version.number` (and the distribution, for OpenSearch) from `GET /`.
pub fn parse_version(body: &[u8]) -> Option<String> {
    let root: serde_json::Value = serde_json::from_slice(body).ok()?;
    let version = root.get("version")?;
    let number = version.get("number")?.as_str()?;
    let text = match version.get("distribution").and_then(|d| d.as_str()) {
        Some(dist) => format!("{dist} {number}"),
        None => format!("Elasticsearch {number}"),
    };
    Some(sanitize_truncated(&text, 40))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_health_and_indices() {
        let r = parse_cluster_health(br#"{"cluster_name":"search","status":"red","timed_out":false,"number_of_nodes":2,"number_of_data_nodes":2,"active_primary_shards":4,"active_shards":8,"relocating_shards":0,"initializing_shards":1,"unassigned_shards":3,"delayed_unassigned_shards":0,"number_of_pending_tasks":2,"number_of_in_flight_fetch":0,"task_max_waiting_in_queue_millis":0,"active_shards_percent_as_number":72.7}"#).unwrap();
        assert_eq!(
            (r.status, r.nodes, r.unassigned_shards, r.pending_tasks),
            (ClusterStatus::Red, 2, 3, 2)
        );
        let i = parse_cat_indices(br#"[{"health":"green","status":"open","index":"accounts","docs.count":"10","store.size":"500"},{"health":"red","status":"open","index":"statuses","docs.count":"99","store.size":"100"},{"health":null,"status":"close","index":"old","docs.count":null,"store.size":null}]"#).unwrap();
        let names: Vec<&str> = i.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["statuses", "old", "accounts"]);
        assert_eq!(
            parse_version(br#"{"version":{"number":"7.17.9"}}"#).as_deref(),
            Some("Elasticsearch 7.17.9")
        );
        assert_eq!(
            parse_version(br#"{"version":{"distribution":"opensearch","number":"2.11.0"}}"#)
                .as_deref(),
            Some("opensearch 2.11.0")
        );
    }

    #[test]
    fn garbage_and_odd_statuses_are_errors() {
        assert!(parse_cluster_health(b"<html>502 Bad Gateway</html>").is_err());
        let e = parse_cluster_health(br#"{"cluster_name":"x","status":"purple"}"#).unwrap_err();
        assert!(e.contains("purple"), "{e}");
        assert!(parse_cat_indices(b"{}").is_err());
        assert_eq!(parse_version(b"nope"), None);
    }
}
