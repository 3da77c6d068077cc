//! Names that reach the Mastodon checks from outside (slot names, the stanza and what
//! pgBackRest prints, host names from `df` and `ss`, `.env` keys, Sidekiq hostnames and
//! queue names) made of escape sequences, control bytes and huge lengths: none of it
//! reaches a finding or a detail line raw, and none makes one unbounded.

use std::time::{Duration, SystemTime};

use mastop::config::{BackupLimits, HostConfig, SlotWalLimits};
use mastop::model::detail::SectionBody;
use mastop::model::{Detail, Finding, Reading};
use mastop::sources::host::HostReading;
use mastop::sources::host::checks::HostChecks;
use mastop::sources::host::drift::Drift;
use mastop::sources::host::mastodon::Exposed;
use mastop::sources::postgres::backups::{self, BackupSet, Backups, Stanza};
use mastop::sources::postgres::wal_space::{WalFilesystem, WalSpace};
use mastop::sources::postgres::{PostgresReading, Slot};
use mastop::sources::sidekiq::coverage;
use mastop::sources::sidekiq::{QueueStat, SidekiqProcess, SidekiqReading};

const ROUNDS: usize = 60;
/// Longer than any finding should ever be, however long the names behind it.
const MAX_FINDING_CHARS: usize = 2_000;

/// A seeded generator of hostile text: escape sequences of every family, C1 controls,
/// bidi overrides, zero-width characters, newlines, plain words, and now and then a name
/// tens of kilobytes long.
struct Hostile(u64);

impl Hostile {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "\u{1b}[31m",
            "\u{1b}]52;c;cHduZWQ=\u{7}",
            "\u{1b}]0;title\u{1b}\\",
            "\u{1b}P+q\u{1b}\\",
            "\u{9b}2J",
            "\u{9d}8;;http://x\u{9c}",
            "\u{202e}",
            "\u{2066}",
            "\u{200b}",
            "\r\n",
            "\t",
            "\u{7}",
            "\u{0}",
            "db-1",
            "main",
            "scheduler",
            " ",
        ];
        if self.next().is_multiple_of(17) {
            return "\u{1b}[2J".repeat(12_000);
        }
        let n = 1 + self.next() % 8;
        (0..n)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

fn harmless(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200d}' | '\u{feff}'))
}

fn assert_clean(what: &str, text: &str) {
    assert!(text.chars().all(harmless), "{what}: {text:?}");
}

fn assert_findings(what: &str, findings: &[Finding]) {
    for f in findings {
        assert_clean(what, &f.message);
        assert!(
            f.message.chars().count() <= MAX_FINDING_CHARS,
            "{what}: a finding of {} chars",
            f.message.chars().count()
        );
    }
}

/// The pairs sections of a detail view (tables are sanitised when drawn).
fn assert_pairs(what: &str, detail: &Detail) {
    for section in &detail.sections {
        if let SectionBody::Pairs(pairs) = &section.body {
            for (k, v) in pairs {
                assert_clean(what, k);
                assert_clean(what, v);
            }
        }
    }
}

fn demo<T: 'static + Clone>(id: &str) -> T {
    let t = Duration::from_secs(100);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    mastop::demo::readings_at(t, now)
        .into_iter()
        .find(|(m, _)| m.id.as_str() == id)
        .and_then(|(_, r)| r.as_any().downcast_ref::<T>().cloned())
        .unwrap_or_else(|| panic!("the demo has {id}"))
}

#[test]
fn hostile_slot_host_and_stanza_names_never_reach_postgres_findings_raw() {
    let base: PostgresReading = demo("postgres/primary");
    let mut hostile = Hostile(0x5107_5eed);
    let mut seen = 0;
    for round in 0..ROUNDS {
        let mut r = base.clone();
        let slot = |name: String, active: bool, status: &str| Slot {
            name,
            slot_type: "physical".into(),
            database: String::new(),
            active,
            wal_status: Some(status.into()),
            safe_wal_size: None,
            retained_bytes: Some(40.0 * 1024.0 * 1024.0 * 1024.0),
            xmin_age: None,
            catalog_xmin_age: None,
        };
        r.views.slots = Some(vec![
            slot(hostile.text(), false, "extended"),
            slot(hostile.text(), true, "lost"),
        ]);
        r.views.wal_space = Some(WalSpace {
            host: hostile.text(),
            filesystem: (round % 3 != 0).then(|| WalFilesystem {
                wal_path: hostile.text(),
                mount: hostile.text(),
                total_bytes: 64.0 * 1024.0 * 1024.0 * 1024.0,
                free_bytes: 1024.0 * 1024.0 * 1024.0,
            }),
            error: (round % 3 == 0).then(|| hostile.text()),
            limits: SlotWalLimits::default(),
        });
        let set = |h: &mut Hostile| BackupSet {
            label: h.text(),
            kind: h.text(),
            age_s: 30.0 * 86_400.0,
            page_errors: true,
        };
        r.views.backups = Some(Backups {
            host: hostile.text(),
            stanza_name: hostile.text(),
            stanza: (round % 4 != 0).then(|| Stanza {
                name: hostile.text(),
                status_code: 99,
                status_message: hostile.text(),
                running: true,
                last_full: Some(set(&mut hostile)),
                last_any: Some(set(&mut hostile)),
                count: 3,
            }),
            error: (round % 4 == 0).then(|| hostile.text()),
            limits: BackupLimits::default(),
        });
        let findings = r.findings();
        seen += findings.len();
        assert_findings(&format!("round {round}"), &findings);
        assert_pairs(&format!("round {round}"), &r.detail());
    }
    assert!(seen >= ROUNDS * 4, "the hostile names were judged ({seen})");
}

#[test]
fn hostile_json_from_pgbackrest_is_parsed_and_never_reaches_findings_raw() {
    let mut hostile = Hostile(0x0bac_4e57);
    for round in 0..ROUNDS {
        let stanza = hostile.text();
        let json = serde_json::json!([{
            "name": stanza,
            "status": {"code": 2, "message": hostile.text(), "lock": {"backup": {"held": false}}},
            "backup": [{
                "label": hostile.text(), "type": hostile.text(), "error": true,
                "timestamp": {"start": 1, "stop": 2}
            }]
        }])
        .to_string();
        let parsed = backups::parse_info(&json, &stanza, 1_000_000).expect("parses");
        let b = Backups {
            host: hostile.text(),
            stanza_name: stanza,
            stanza: Some(parsed),
            error: None,
            limits: BackupLimits::default(),
        };
        let findings = backups::findings(&b);
        assert!(!findings.is_empty());
        assert_findings(&format!("round {round}"), &findings);
        for (k, v) in backups::pairs(&b) {
            assert_clean(k, &v);
        }
    }
}

#[test]
fn hostile_ss_env_and_deploy_names_never_reach_host_findings_raw() {
    let base: HostReading = demo("host/web-1");
    let mut hostile = Hostile(0x0e4f_d21f);
    let mut seen = 0;
    for round in 0..ROUNDS {
        let mut r = base.clone();
        r.checks = HostChecks {
            exposed: Some(vec![Exposed {
                service: hostile.text(),
                address: hostile.text(),
            }]),
            mastodon_version: Some(hostile.text()),
            mastodon_revision: Some(hostile.text()),
            env_keys: 3,
            redis_namespace_refused: true,
            drift: Some(vec![
                Drift {
                    what: "env".into(),
                    subject: hostile.text(),
                    others: vec![hostile.text(), hostile.text()],
                },
                Drift {
                    what: "deploy".into(),
                    subject: hostile.text(),
                    others: vec![hostile.text()],
                },
            ]),
        };
        let findings = r.findings();
        seen += findings.len();
        assert_findings(&format!("round {round}"), &findings);
        assert_pairs(&format!("round {round}"), &r.detail());
    }
    assert!(seen >= ROUNDS * 4, "the hostile names were judged ({seen})");
}

#[test]
fn hostile_sidekiq_hostnames_queues_and_roles_never_reach_findings_raw() {
    let mut hostile = Hostile(0x51de_c1c0);
    let mut seen = 0;
    for round in 0..ROUNDS {
        let queue = hostile.text();
        let proc = |h: &mut Hostile, hostname: String| SidekiqProcess {
            identity: h.text(),
            hostname,
            pid: 7,
            concurrency: 10,
            queues: vec![queue.clone(), "scheduler".into(), "default".into()],
            weights: vec![
                (queue.clone(), 0),
                ("scheduler".into(), 1),
                ("default".into(), 0),
                ("push".into(), 3),
            ],
            db_pool: Some(2),
            capsules: 1,
            ..SidekiqProcess::default()
        };
        let cdn = hostile.text();
        let other_host = hostile.text();
        let mut reading = SidekiqReading {
            queues: vec![
                QueueStat {
                    name: hostile.text(),
                    size: 12,
                    latency_s: 30.0,
                    unreadable: false,
                },
                QueueStat {
                    name: queue.clone(),
                    size: 4,
                    latency_s: 3.0,
                    unreadable: false,
                },
            ],
            process_list: vec![
                proc(&mut hostile, cdn.clone()),
                proc(&mut hostile, other_host),
            ],
            ..SidekiqReading::default()
        };
        reading.processes = reading.process_list.len() as u64;
        let mut host = HostConfig::new("cdn-1", cdn);
        host.roles = vec![hostile.text(), "edge-cdn".into()];
        reading.misplaced = coverage::off_role(&reading, &[host]);
        let findings = reading.findings();
        seen += findings.len();
        assert_findings(&format!("round {round}"), &findings);
    }
    assert!(seen >= ROUNDS * 3, "the hostile names were judged ({seen})");
}
