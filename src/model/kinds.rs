//! Every kind of component and the figures its readings carry: what the overview lists,
//! and what `[thresholds.<kind>.<figure>]` in the config may name. Each source produces
//! its kind's figures; keeping the vocabulary here lets the config be checked against it
//! without knowing any backend.

use super::FigureSpec;

pub mod edge {
    use crate::model::FigureSpec;

    pub const KIND: &str = "edge";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("first_byte_ms"),
        FigureSpec::up("dns_ms"),
        FigureSpec::up("connect_ms"),
        FigureSpec::up("tls_ms"),
        FigureSpec::down("cache_hit_pct"),
        FigureSpec::down("cert_days_left"),
    ];
}

pub mod web {
    use crate::model::FigureSpec;

    pub const KIND: &str = "web";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("puma_backlog"),
        FigureSpec::up("threads_busy_pct"),
        FigureSpec::up("request_queue_p99_s"),
        FigureSpec::up("db_pool_waiting"),
        FigureSpec::up("db_pool_busy_pct"),
    ];
}

pub mod host {
    use crate::model::FigureSpec;

    pub const KIND: &str = "host";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("disk_used_pct"),
        FigureSpec::up("load_1"),
        FigureSpec::up("load_5"),
        FigureSpec::up("load_15"),
        FigureSpec::up("load_per_cpu"),
        FigureSpec::up("cpu_busy_pct"),
        FigureSpec::up("memory_used_pct"),
        FigureSpec::up("swap_used_pct"),
        FigureSpec::up("disk_util_pct"),
        FigureSpec::up("disk_iops"),
        FigureSpec::up("net_rx_bytes_per_s"),
        FigureSpec::up("net_tx_bytes_per_s"),
        FigureSpec::up("cpu_pressure_pct"),
        FigureSpec::up("memory_pressure_pct"),
        FigureSpec::up("io_pressure_pct"),
        FigureSpec::up("log_signature_per_min"),
    ];
}

pub mod sidekiq {
    use crate::model::FigureSpec;

    pub const KIND: &str = "sidekiq";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("queue_latency_s"),
        FigureSpec::up("enqueued"),
        FigureSpec::up("busy"),
        FigureSpec::up("scheduled"),
        FigureSpec::up("retries"),
        FigureSpec::up("dead"),
        FigureSpec::down("processes"),
        FigureSpec::down("processed_per_s"),
        FigureSpec::up("failed_per_s"),
    ];
}

pub mod postgres {
    use crate::model::FigureSpec;

    pub const KIND: &str = "postgres";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("connections_used_pct"),
        FigureSpec::up("connections"),
        FigureSpec::up("active_sessions"),
        FigureSpec::up("idle_in_xact_sessions"),
        FigureSpec::up("lock_waiting_sessions"),
        FigureSpec::up("longest_xact_s"),
        FigureSpec::up("idle_in_xact_max_s"),
        FigureSpec::up("replication_lag_s"),
        FigureSpec::down("cache_hit_pct"),
        FigureSpec::up("xact_per_sec"),
        FigureSpec::up("database_size_bytes"),
        FigureSpec::up("rollback_pct"),
        FigureSpec::up("lock_blocker_age_s"),
        FigureSpec::up("oldest_xmin_age"),
        FigureSpec::up("standby_lag_bytes"),
        FigureSpec::up("standby_lag_s"),
        FigureSpec::up("slot_retained_bytes"),
        FigureSpec::up("xid_age"),
        FigureSpec::up("mxid_age"),
        FigureSpec::up("wal_dir_bytes"),
    ];
}

pub mod pgbouncer {
    use crate::model::FigureSpec;

    pub const KIND: &str = "pgbouncer";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("clients_waiting"),
        FigureSpec::up("max_wait_s"),
        FigureSpec::up("pool_used_pct"),
        FigureSpec::up("queries_per_sec"),
        FigureSpec::up("avg_wait_ms"),
    ];
}

pub mod redis {
    use crate::model::FigureSpec;

    pub const KIND: &str = "redis";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("memory_used_pct"),
        FigureSpec::up("used_memory_bytes"),
        FigureSpec::up("connected_clients"),
        FigureSpec::up("blocked_clients"),
        FigureSpec::up("ops_per_sec"),
        FigureSpec::down("hit_ratio_pct"),
        FigureSpec::up("evicted_keys"),
        FigureSpec::up("fragmentation_ratio"),
        FigureSpec::up("master_last_io_s"),
        FigureSpec::up("replica_lag_s"),
    ];
}

pub mod elasticsearch {
    use crate::model::FigureSpec;

    pub const KIND: &str = "elasticsearch";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("unassigned_shards"),
        FigureSpec::down("active_shards_pct"),
        FigureSpec::down("nodes"),
        FigureSpec::down("data_nodes"),
        FigureSpec::up("active_shards"),
        FigureSpec::up("relocating_shards"),
        FigureSpec::up("initializing_shards"),
        FigureSpec::up("pending_tasks"),
    ];
}

pub mod streaming {
    use crate::model::FigureSpec;

    pub const KIND: &str = "streaming";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::down("connected_clients"),
        FigureSpec::down("websocket_clients"),
        FigureSpec::down("eventsource_clients"),
        FigureSpec::down("connected_channels"),
        FigureSpec::up("messages_per_sec"),
    ];
}

pub mod prometheus {
    use crate::model::FigureSpec;

    pub const KIND: &str = "prometheus";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("targets_down"),
        FigureSpec::down("targets_up"),
        FigureSpec::up("rules_failing"),
        FigureSpec::up("alert_rules_firing"),
    ];
}

pub mod alertmanager {
    use crate::model::FigureSpec;

    pub const KIND: &str = "alertmanager";

    pub const FIGURES: &[FigureSpec] = &[
        FigureSpec::up("firing"),
        FigureSpec::up("suppressed"),
        FigureSpec::up("silences_active"),
        FigureSpec::down("peers"),
    ];
}

/// Every component kind, in the order the overview lists them (the traffic path first).
pub const KINDS: &[&str] = &[
    edge::KIND,
    web::KIND,
    host::KIND,
    sidekiq::KIND,
    postgres::KIND,
    pgbouncer::KIND,
    redis::KIND,
    elasticsearch::KIND,
    streaming::KIND,
    prometheus::KIND,
    alertmanager::KIND,
];

/// The figures a kind produces, for validating `[thresholds.<kind>.<figure>]`.
pub fn figure_specs(kind: &str) -> Option<&'static [FigureSpec]> {
    match kind {
        edge::KIND => Some(edge::FIGURES),
        web::KIND => Some(web::FIGURES),
        host::KIND => Some(host::FIGURES),
        sidekiq::KIND => Some(sidekiq::FIGURES),
        postgres::KIND => Some(postgres::FIGURES),
        pgbouncer::KIND => Some(pgbouncer::FIGURES),
        redis::KIND => Some(redis::FIGURES),
        elasticsearch::KIND => Some(elasticsearch::FIGURES),
        streaming::KIND => Some(streaming::FIGURES),
        prometheus::KIND => Some(prometheus::FIGURES),
        alertmanager::KIND => Some(alertmanager::FIGURES),
        _ => None,
    }
}
