//! Queue coverage: which live process serves which queue, at what weight. Pure functions
//! of a reading, so the matrix, its findings and the host-role check are tested without a
//! server.
//!
//! The incidents behind it (Hachyderm's post-mortems, mastodon-ops.md): queues moved
//! between hosts by hand from a spreadsheet, leaving one queue served by nobody and
//! `scheduler` by two; a CDN node that ran Sidekiq because its role was wrong.

use crate::config::HostConfig;
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::{Finding, Level};
use crate::sanitize::sanitize_truncated;

use super::queues::MASTODON_QUEUES;
use super::reading::{SidekiqProcess, SidekiqReading};

/// Process columns drawn in the matrix; the rest are counted in `served by`.
pub const MATRIX_PROCESSES: usize = 8;

/// The queues Mastodon's `config/sidekiq.yml` gives a weight (8, 6, 4, 2). A process
/// serving one of them at weight 0 polls it as rarely as `pull`: someone rebalanced by hand.
pub const WEIGHTED_QUEUES: &[&str] = &["default", "push", "ingress", "mailers"];

/// The role a host running Sidekiq should have (Hachyderm's `tag:role-*` vocabulary).
pub const SIDEKIQ_ROLE: &str = "mastodon-sidekiq";

/// One process serving one queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Serving {
    pub identity: String,
    /// `None` on 6.x, which advertises no weights.
    pub weight: Option<i64>,
}

/// One row of the matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueCoverage {
    pub queue: String,
    /// Jobs waiting; 0 for a queue that is not in the `queues` set.
    pub size: u64,
    pub served: Vec<Serving>,
}

/// Processes that are alive: a stale or gone process serves nothing.
fn live(r: &SidekiqReading) -> impl Iterator<Item = &SidekiqProcess> {
    r.process_list
        .iter()
        .filter(|p| !p.stale && !p.info_missing)
}

/// Mastodon's queues, then the other queues in `queues`, then any a process serves that is
/// in neither, each with its live servers.
pub fn coverage(r: &SidekiqReading) -> Vec<QueueCoverage> {
    let mut names: Vec<String> = MASTODON_QUEUES.iter().map(|q| q.to_string()).collect();
    let mut others: Vec<String> = r
        .queues
        .iter()
        .map(|q| q.name.clone())
        .chain(live(r).flat_map(|p| p.queues.iter().cloned()))
        .filter(|q| !MASTODON_QUEUES.contains(&q.as_str()))
        .collect();
    others.sort();
    others.dedup();
    names.extend(others);
    names
        .into_iter()
        .map(|queue| {
            let size = r
                .queues
                .iter()
                .find(|q| q.name == queue)
                .map_or(0, |q| q.size);
            let served = live(r)
                .filter(|p| p.queues.contains(&queue))
                .map(|p| Serving {
                    identity: p.identity.clone(),
                    weight: p.weights.iter().find(|(q, _)| *q == queue).map(|w| w.1),
                })
                .collect();
            QueueCoverage {
                queue,
                size,
                served,
            }
        })
        .collect()
}

/// Findings the matrix adds to the existing ones (unserved queue with jobs, two
/// schedulers): a Mastodon-weighted queue at weight 0, and a DB pool smaller than the
/// process's threads.
pub fn findings(r: &SidekiqReading) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in live(r) {
        // In weighted mode a queue at weight 0 is still polled, once per fetch, against
        // the others' weights: `default` at 0 next to `pull` at 8 starves timelines.
        let weighted = p.weights.iter().any(|(_, w)| *w > 0);
        let zero: Vec<&str> = p
            .weights
            .iter()
            .filter(|(q, w)| *w == 0 && WEIGHTED_QUEUES.contains(&q.as_str()))
            .map(|(q, _)| q.as_str())
            .collect();
        if weighted && !zero.is_empty() {
            out.push(Finding::warn(format!(
                "{} serves {} at weight 0 (polled least often; Mastodon weights it): hand-rebalanced queues",
                sanitize_truncated(&p.identity, 96),
                zero.join(", ")
            )));
        }
        if let Some(pool) = p.db_pool
            && pool < p.concurrency
        {
            out.push(Finding::warn(format!(
                "{} runs {} threads on a database pool of {pool}: jobs wait for connections (DB_POOL below -c)",
                sanitize_truncated(&p.identity, 96),
                p.concurrency
            )));
        }
    }
    out
}

/// Whether a process's hostname is this configured host: its name, its address, or the
/// first label of either (`sidekiq-1` for `sidekiq-1.tail1234.ts.net`).
fn is_host(hostname: &str, host: &HostConfig) -> bool {
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    let h = hostname.trim().trim_end_matches('.');
    if h.is_empty() {
        return false;
    }
    [host.name.as_str(), host.address.as_str()]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(h) || short(c) == short(h))
}

/// Sidekiq processes running on a configured or discovered host whose roles do not include
/// `mastodon-sidekiq` (Hachyderm's CDN node running Sidekiq). The Sidekiq source does not
/// see the inventory, so whoever holds both (the engine, the fleet view) calls this with
/// the latest host list. Hosts without roles and hostnames that match no host (container
/// IDs under Docker) are not judged.
pub fn off_role(r: &SidekiqReading, hosts: &[HostConfig]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for p in live(r) {
        let Some(host) = hosts.iter().find(|h| is_host(&p.hostname, h)) else {
            continue;
        };
        if host.roles.is_empty()
            || host.roles.iter().any(|role| role == SIDEKIQ_ROLE)
            || seen.contains(&host.name.as_str())
        {
            continue;
        }
        seen.push(&host.name);
        out.push(Finding::crit(format!(
            "Sidekiq runs on {} whose roles are {}, not {SIDEKIQ_ROLE}: a node doing work it was not built for (a CDN node ran Sidekiq)",
            sanitize_truncated(&host.name, 64),
            host.roles
                .iter()
                .take(8)
                .map(|r| sanitize_truncated(r, 48))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    out
}

/// The matrix as a table: one row per queue, one column per live process (the first
/// [`MATRIX_PROCESSES`]), cells the weight (`✓` on 6.x, `·` not served).
pub fn table(r: &SidekiqReading) -> TableData {
    let rows = coverage(r);
    let procs: Vec<&SidekiqProcess> = live(r).take(MATRIX_PROCESSES).collect();
    let mut columns = vec![
        Column::text("queue", 12),
        Column::number("size", 8),
        Column::number("served by", 9),
    ];
    columns.extend(
        procs.iter().enumerate().map(|(i, p)| {
            Column::text(format!("{}:{}", p.hostname, p.pid), 10).optional(i as u8 + 1)
        }),
    );
    let rows = rows
        .iter()
        .map(|c| {
            let n = c.served.len();
            let level = if (n == 0 && c.size > 0) || (c.queue == "scheduler" && n > 1) {
                Level::Warn
            } else {
                Level::Ok
            };
            let mut cells = vec![
                Cell::text(c.queue.clone()),
                Cell::number(c.size.to_string(), c.size as f64),
                Cell::number(n.to_string(), n as f64),
            ];
            cells.extend(procs.iter().map(|p| {
                match c.served.iter().find(|s| s.identity == p.identity) {
                    None => Cell::text("·"),
                    Some(Serving { weight: None, .. }) => Cell::text("✓"),
                    Some(Serving {
                        weight: Some(w), ..
                    }) => Cell::text(w.to_string()),
                }
            }));
            Row {
                key: Some(c.queue.clone()),
                cells,
                level: Some(level),
            }
        })
        .collect();
    TableData { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sidekiq::reading::QueueStat;

    fn proc(host: &str, pid: u32, weights: &[(&str, i64)]) -> SidekiqProcess {
        SidekiqProcess {
            identity: format!("{host}:{pid}:abcdef012345"),
            hostname: host.into(),
            pid,
            concurrency: 25,
            queues: weights.iter().map(|(q, _)| q.to_string()).collect(),
            weights: weights.iter().map(|(q, w)| (q.to_string(), *w)).collect(),
            ..SidekiqProcess::default()
        }
    }

    fn reading(procs: Vec<SidekiqProcess>, queues: &[(&str, u64)]) -> SidekiqReading {
        SidekiqReading {
            process_list: procs,
            queues: queues
                .iter()
                .map(|(n, s)| QueueStat {
                    name: n.to_string(),
                    size: *s,
                    ..QueueStat::default()
                })
                .collect(),
            ..SidekiqReading::default()
        }
    }

    #[test]
    fn matrix_lists_mastodon_queues_then_extra_ones_with_their_servers() {
        let mut stale = proc("old", 3, &[("pull", 1)]);
        stale.stale = true;
        let r = reading(
            vec![
                proc("sk1", 1, &[("default", 8), ("push", 6), ("scheduler", 0)]),
                proc("sk2", 2, &[("pull", 1), ("custom", 1)]),
                stale,
            ],
            &[("pull", 40), ("fasp", 3), ("zeta", 0)],
        );
        let c = coverage(&r);
        let names: Vec<&str> = c.iter().map(|q| q.queue.as_str()).collect();
        assert_eq!(
            names,
            [
                "default",
                "push",
                "ingress",
                "mailers",
                "pull",
                "scheduler",
                "fasp",
                "custom",
                "zeta"
            ]
        );
        let pull = &c[4];
        assert_eq!(pull.size, 40);
        assert_eq!(pull.served.len(), 1, "the stale process does not count");
        assert_eq!(pull.served[0].weight, Some(1));
        assert!(c[6].served.is_empty() && c[6].size == 3);
        let t = table(&r);
        assert_eq!(t.columns.len(), 3 + 2);
        assert_eq!(
            t.rows[6].level,
            Some(Level::Warn),
            "fasp has jobs, no server"
        );
        assert_eq!(t.rows[0].cells[3].text, "8");
        assert_eq!(t.rows[0].cells[4].text, "·");
    }

    #[test]
    fn weight_zero_on_a_weighted_mastodon_queue_warns_but_stock_pull_does_not() {
        let stock = proc(
            "sk1",
            1,
            &[
                ("default", 8),
                ("push", 6),
                ("ingress", 4),
                ("mailers", 2),
                ("pull", 0),
                ("scheduler", 0),
            ],
        );
        assert!(findings(&reading(vec![stock], &[])).is_empty());
        let rebalanced = proc("sk2", 2, &[("pull", 8), ("default", 0), ("push", 0)]);
        let f = findings(&reading(vec![rebalanced], &[]));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("default, push at weight 0"),
            "{}",
            f[0].message
        );
        // Strict mode (no weights above zero): every queue is 0 and order decides.
        let strict = proc("sk3", 3, &[("default", 0), ("push", 0)]);
        assert!(findings(&reading(vec![strict], &[])).is_empty());
    }

    #[test]
    fn db_pool_below_concurrency_warns() {
        let mut p = proc("sk1", 1, &[("default", 1)]);
        p.db_pool = Some(10);
        let f = findings(&reading(vec![p.clone()], &[]));
        assert!(f[0].message.contains("25 threads on a database pool of 10"));
        p.db_pool = Some(25);
        assert!(findings(&reading(vec![p], &[])).is_empty());
    }

    #[test]
    fn sidekiq_on_a_host_without_the_sidekiq_role_is_critical() {
        let host = |name: &str, address: &str, roles: &[&str]| {
            let mut h = HostConfig::new(name, address);
            h.roles = roles.iter().map(|r| r.to_string()).collect();
            h
        };
        let hosts = vec![
            host(
                "sidekiq-1",
                "sidekiq-1.tail1234.ts.net",
                &["mastodon-sidekiq"],
            ),
            host(
                "cdn-fremont-1",
                "cdn-fremont-1.tail1234.ts.net",
                &["edge-cdn"],
            ),
            host("spare", "10.0.0.9", &[]),
        ];
        let r = reading(
            vec![
                proc("sidekiq-1", 1, &[("default", 1)]),
                proc("CDN-FREMONT-1.tail1234.ts.net", 2, &[("pull", 1)]),
                proc("cdn-fremont-1", 3, &[("push", 1)]),
                proc("spare", 4, &[("push", 1)]),
                proc("3f9c2a1b7d4e", 5, &[("push", 1)]),
            ],
            &[],
        );
        let f = off_role(&r, &hosts);
        assert_eq!(f.len(), 1, "one finding per host: {f:?}");
        assert_eq!(f[0].level, Level::Crit);
        assert!(
            f[0].message
                .contains("cdn-fremont-1 whose roles are edge-cdn")
        );
    }
}
