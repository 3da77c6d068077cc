//! Demo Elasticsearch: three nodes holding Mastodon's chewy indices, one primary and one
//! replica per shard.

use std::time::Duration;

use crate::sources::elasticsearch::{ClusterStatus, ElasticsearchReading, IndexInfo};

use super::noise::around;
use super::script::{self, SearchPhase};

/// (index, primary shards, documents, bytes) on a quiet evening.
const INDICES: &[(&str, u32, f64, f64)] = &[
    ("statuses", 5, 61_200_000.0, 98.0e9),
    ("public_statuses", 3, 18_400_000.0, 31.0e9),
    ("accounts", 2, 4_900_000.0, 3.1e9),
    ("tags", 1, 1_300_000.0, 0.4e9),
    ("instances", 1, 61_000.0, 0.02e9),
];

/// Replica shards the restarting node held, per index (its primaries fail over to the
/// replicas elsewhere, so the cluster stays yellow, not red).
fn replicas_on_lost_node(primaries: u32) -> u32 {
    primaries.div_ceil(3)
}

pub(crate) fn reading(t: Duration, s: f64) -> ElasticsearchReading {
    let now = t.as_secs_f64();
    let phase = script::search_phase(s);
    let primaries: u32 = INDICES.iter().map(|i| i.1).sum();
    let total = primaries * 2;
    let lost: u32 = INDICES.iter().map(|i| replicas_on_lost_node(i.1)).sum();
    let (nodes, unassigned, initializing) = match phase {
        SearchPhase::Green => (3, 0, 0),
        SearchPhase::NodeLeft => (2, lost, 0),
        SearchPhase::Recovering { progress } => {
            let remaining = (f64::from(lost) * (1.0 - progress)).ceil() as u32;
            // Elasticsearch recovers two shards per node at a time by default.
            let initializing = remaining.min(2);
            (3, remaining - initializing, initializing)
        }
    };
    let missing = unassigned + initializing;
    let status = if missing > 0 {
        ClusterStatus::Yellow
    } else {
        ClusterStatus::Green
    };
    let indices = INDICES
        .iter()
        .map(|&(name, shards, docs, bytes)| {
            let degraded = missing > 0 && replicas_on_lost_node(shards) > 0;
            IndexInfo {
                name: name.into(),
                status: if degraded {
                    ClusterStatus::Yellow
                } else {
                    ClusterStatus::Green
                },
                // Statuses keep being indexed; the rest barely move within a demo.
                docs: (docs
                    + if name.ends_with("statuses") {
                        35.0 * now
                    } else {
                        0.0
                    }) as u64,
                size_bytes: around(&format!("es:{name}"), now, bytes, 0.002) as u64,
            }
        })
        .collect();
    ElasticsearchReading {
        indices_error: None,
        cluster_name: "hachyderm-search".into(),
        version: Some("7.17.26".into()),
        status,
        nodes,
        data_nodes: nodes,
        active_primary_shards: primaries,
        active_shards: total - missing,
        relocating_shards: 0,
        initializing_shards: initializing,
        unassigned_shards: unassigned,
        pending_tasks: u32::from(phase != SearchPhase::Green),
        active_shards_pct: ((f64::from(total - missing) / f64::from(total)) * 1000.0).round()
            / 10.0,
        indices,
    }
}
