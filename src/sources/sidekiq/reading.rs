//! What one poll of Sidekiq's Redis says. The health it implies is judged in
//! [`super::health`], the detail view built in [`super::detail`].

use serde::{Deserialize, Serialize};

use super::browse::{Browsed, PageView, SetName};
use super::jobs::{BusyJob, ClassCount, DailyStat, SetEntry};
use crate::model::{Finding, Threshold};

pub const QUEUE_LATENCY: Threshold = Threshold::above(60.0, 300.0);

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SidekiqReading {
    /// Processes found on configured hosts whose roles leave out Sidekiq.
    pub misplaced: Vec<Finding>,
    /// Sidekiq version when a process advertises it (7.x and later).
    pub version: Option<String>,
    /// The key layout detected from what is in Redis (see [`super::Layout`]).
    pub layout: String,
    /// The key prefix in use (`REDIS_NAMESPACE` of Mastodon ≤ 4.3), if any.
    pub namespace: Option<String>,
    /// `stat:processed`: every execution since the counters were last reset.
    pub processed: u64,
    /// `stat:failed`.
    pub failed: u64,
    /// Sum of the sizes of the queues in the `queues` set.
    pub enqueued: u64,
    /// Jobs running now, from the process heartbeats (up to one beat old).
    pub busy: u64,
    pub scheduled: u64,
    pub retries: u64,
    pub dead: u64,
    /// `SCARD processes`, as Sidekiq reports it (stale identities included).
    pub processes: u64,
    /// Rates since the previous poll; `None` on the first one or after a counter reset.
    pub processed_per_s: Option<f64>,
    pub failed_per_s: Option<f64>,
    /// Age of the oldest job in `queue:default`, as `Sidekiq::Stats#default_queue_latency`.
    pub default_queue_latency_s: f64,
    /// Epoch seconds at which latencies and ages were computed.
    pub read_at: f64,
    pub queues: Vec<QueueStat>,
    pub process_list: Vec<SidekiqProcess>,
    /// Running jobs from the processes' work hashes, read on the extras cadence.
    pub busy_jobs: Vec<BusyJob>,
    /// Set when `busy_jobs` is a page the operator browsed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_view: Option<BusyView>,
    /// First pages of the sorted sets, read on the extras cadence; `None` until read.
    pub retry_set: Option<SetPage>,
    pub scheduled_set: Option<SetPage>,
    pub dead_set: Option<SetPage>,
    /// Job classes per queue from a bounded sample of the newest jobs.
    pub classes: Vec<ClassCount>,
    /// Daily processed/failed, oldest first, read on a slow cadence.
    pub history: Vec<DailyStat>,
    /// Sidekiq's own per-class job metrics over the last hour, read on a slow cadence;
    /// `None` until first read.
    pub job_metrics: Option<super::metrics::JobMetrics>,
    /// Data that could not be read as Sidekiq writes it (wrong key types, unreadable
    /// JSON); counted and shown, never fatal.
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStat {
    pub name: String,
    pub size: u64,
    /// Age of the oldest job in the queue; 0 when empty.
    pub latency_s: f64,
    /// The oldest job could not be read, so the latency is unknown (shown as 0, as
    /// Sidekiq's Stats does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SidekiqProcess {
    /// `hostname:pid:nonce`, as in the `processes` set.
    pub identity: String,
    pub hostname: String,
    pub pid: u32,
    pub tag: String,
    pub concurrency: u32,
    pub busy: u32,
    pub queues: Vec<String>,
    /// `(queue, weight)` as 7.x advertises them; empty on 6.x.
    pub weights: Vec<(String, i64)>,
    pub quiet: bool,
    pub rss_kb: u64,
    pub rtt_us: Option<u64>,
    pub version: Option<String>,
    /// Seconds since the last heartbeat.
    pub beat_age_s: f64,
    /// Heartbeat older than twice the beat interval (5 s on 6.x, 10 s on 7+), or its hash
    /// is gone while the identity lingers in `processes`.
    pub stale: bool,
    /// The identity is in `processes` but its hash has no readable `info`.
    pub info_missing: bool,
    /// Capsules the process runs (8.x may run several with their own queues).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub capsules: u32,
    /// Database pool from a `db_pool=N` process label, when the operator set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_pool: Option<u32>,
}

/// What a stored process without a `capsules` field ran: the one capsule every Sidekiq has.
fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n <= 1
}

/// A page of a sorted set: its size and the entries shown. The poll reads the first page;
/// a browsed page says which one it is in `view`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetPage {
    pub total: u64,
    pub entries: Vec<SetEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<PageView>,
}

/// Which page of the busy jobs is shown, when the operator paged through them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BusyView {
    pub page: usize,
    /// Running jobs across the processes looked at.
    pub total: u64,
}

impl SidekiqReading {
    /// The queue whose oldest job has waited longest.
    pub fn slowest_queue(&self) -> Option<&QueueStat> {
        self.queues
            .iter()
            .max_by(|a, b| a.latency_s.total_cmp(&b.latency_s))
    }

    /// The rows of a set's first page (`retry`, `schedule` or `dead`) with their exact
    /// members as text, for building exact-member actions: the member is the
    /// compare-and-swap value a guarded Redis script removes. `pub(crate)` because the
    /// member carries job arguments and error messages: only action builders in this crate
    /// read it, and never to show it. Rows whose member is not UTF-8 are left out, as a
    /// Redis argument in an action is text.
    pub(crate) fn members_for_action(&self, set: &str) -> Vec<(&SetEntry, &str)> {
        let page = match set {
            "retry" => &self.retry_set,
            "schedule" => &self.scheduled_set,
            "dead" => &self.dead_set,
            _ => &None,
        };
        page.iter()
            .flat_map(|p| &p.entries)
            .filter_map(|e| Some((e, std::str::from_utf8(e.member.reveal()).ok()?)))
            .collect()
    }

    /// This reading with a browsed page in place of the poll's page of that set (or of the
    /// busy jobs): drawn, revealed and acted on exactly like the first page.
    pub fn with_browsed(&self, browsed: &Browsed) -> SidekiqReading {
        let mut r = self.clone();
        match browsed {
            Browsed::Set(b) => {
                let page = Some(SetPage {
                    total: b.total,
                    entries: b.entries.clone(),
                    view: Some(b.view.clone()),
                });
                match b.set {
                    Some(SetName::Retry) => r.retry_set = page,
                    Some(SetName::Scheduled) => r.scheduled_set = page,
                    Some(SetName::Dead) => r.dead_set = page,
                    None => {}
                }
                r.problems.extend(b.problems.iter().cloned());
            }
            Browsed::Busy(b) => {
                r.busy_jobs = b.jobs.clone();
                r.busy_view = Some(BusyView {
                    page: b.page,
                    total: b.total,
                });
                r.problems.extend(b.problems.iter().cloned());
            }
        }
        r
    }

    /// The live processes whose work hashes hold the busy jobs.
    pub fn live_identities(&self) -> Vec<String> {
        self.process_list
            .iter()
            .filter(|p| !p.info_missing)
            .map(|p| p.identity.clone())
            .collect()
    }

    pub(super) fn is_served(&self, queue: &str) -> bool {
        self.process_list
            .iter()
            .any(|p| p.queues.iter().any(|q| q == queue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use crate::model::Reading;
    use crate::model::health::evaluate;
    use crate::sources::sidekiq::jobs::{Private, SetEntry};

    fn process(pid: u32, queues: &[&str]) -> SidekiqProcess {
        SidekiqProcess {
            identity: format!("worker:{pid}:0123456789ab"),
            hostname: "worker".into(),
            pid,
            concurrency: 5,
            busy: 1,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            rss_kb: 300_000,
            beat_age_s: 2.0,
            ..SidekiqProcess::default()
        }
    }

    fn reading(latency_s: f64, processes: Vec<SidekiqProcess>) -> SidekiqReading {
        SidekiqReading {
            processed: 10,
            failed: 1,
            enqueued: 3,
            busy: 1,
            processes: processes.len() as u64,
            queues: vec![QueueStat {
                name: "default".into(),
                size: 3,
                latency_s,
                unreadable: false,
            }],
            process_list: processes,
            ..SidekiqReading::default()
        }
    }

    fn level(r: &SidekiqReading) -> Level {
        evaluate(&r.figures(), &r.findings(), |_| None).level
    }

    #[test]
    fn queue_latency_warns_at_a_minute_and_is_critical_at_five() {
        let p = || vec![process(1, &["default", "scheduler"])];
        assert_eq!(level(&reading(2.0, p())), Level::Ok);
        assert_eq!(level(&reading(60.0, p())), Level::Warn);
        assert_eq!(level(&reading(300.0, p())), Level::Crit);
    }

    #[test]
    fn no_processes_is_critical_and_two_schedulers_a_warning() {
        assert_eq!(level(&reading(0.0, Vec::new())), Level::Crit);
        let two = vec![
            process(1, &["default", "scheduler"]),
            process(2, &["scheduler"]),
        ];
        assert_eq!(level(&reading(0.0, two)), Level::Warn);
        let unserved = vec![process(1, &["pull"])];
        assert_eq!(level(&reading(0.0, unserved)), Level::Warn);
    }

    #[test]
    fn stale_processes_and_problems_are_findings() {
        let mut p = process(1, &["default"]);
        p.stale = true;
        let mut r = reading(0.0, vec![p]);
        r.problems.push("queue:x is a string, not a list".into());
        let findings = r.findings();
        assert!(
            findings
                .iter()
                .any(|f| f.message.contains("stopped beating"))
        );
        assert!(findings.iter().any(|f| f.message.contains("queue:x")));
        assert_eq!(level(&r), Level::Warn);
    }

    #[test]
    fn private_members_never_show_in_debug_or_json() {
        let entry = SetEntry {
            score_text: "1795678279.5".into(),
            jid: "abc".into(),
            member: Private::new(br#"{"args":["my secret toot"]}"#),
            ..SetEntry::default()
        };
        assert!(!format!("{entry:?}").contains("secret"));
        let json = serde_json::to_string(&entry).expect("serialises");
        assert!(
            !json.contains("secret") && !json.contains("member"),
            "{json}"
        );
        assert_eq!(entry.key(), "1795678279.5-abc");
        assert_eq!(entry.member.reveal().len(), entry.member.len());
    }
}
