//! Handoffs: a round trip between two consoles through a real PostgreSQL ops store started
//! by the harness, the same on one machine without an ops store, the report against a known
//! audit log, and bad input (escape sequences, unknown zones, a store that hangs, shadow).

use crate::support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mastop::actions::audit::{AuditRecord, Phase};
use mastop::actions::{Outcome, Role, Session};
use mastop::config::OpsStoreConfig;
use mastop::handoff::report::{self, ComponentProblem, Inputs, Person};
use mastop::handoff::shift::{Draft, incoming};
use mastop::handoff::store::HandoffStore;
use mastop::handoff::store::local::LocalHandoffs;
use mastop::handoff::zone::Zone;
use mastop::handoff::{EntryKind, Shift, ShiftEntry, markdown};
use mastop::store::PgStore;
use mastop::store::SharedHandoffs;
use support::{BlackHole, Postgres};

const HANG_GUARD: Duration = Duration::from_secs(60);
const DEADLINE: Duration = Duration::from_secs(10);

async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG_GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what} hung past the hang guard"),
    }
}

fn ops_config(url: String, deadline: Duration) -> OpsStoreConfig {
    OpsStoreConfig {
        url,
        password: None,
        lock_ttl: Duration::from_secs(120),
        approval_ttl: Duration::from_secs(900),
        deadline,
        tls_ca: None,
    }
}

fn session(role: Role, operator: &str, host: &str) -> Session {
    Session {
        role,
        operator: operator.into(),
        tailscale_login: None,
        console_host: host.into(),
        console_id: format!("{host}:1:{}", mastop::actions::audit::new_id()),
    }
}

fn at(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).expect("test time")
}

fn record(action: &str, phase: Phase, time: &str, outcome: Option<Outcome>) -> AuditRecord {
    AuditRecord {
        id: format!("{action}-{phase:?}"),
        action_id: action.into(),
        time: time.into(),
        phase,
        operator: "kris".into(),
        tailscale_login: None,
        runbook: None,
        console_host: "berlin-laptop".into(),
        console_id: "berlin-laptop:1:x".into(),
        role: "oncall".into(),
        kind: "sidekiq.clear_queue".into(),
        title: "Clear queue pull".into(),
        target: "sidekiq/main queue pull".into(),
        target_key: "sidekiq/main#queue:pull".into(),
        risk: "high".into(),
        operations: vec!["DEL queue:pull".into(), "SREM queues pull".into()],
        guards: vec![],
        outcome,
        duration_ms: outcome.map(|_| 1500),
        error: (outcome == Some(Outcome::Failed))
            .then(|| "READONLY You can't write | against a replica".into()),
        result: None,
    }
}

/// The audit log of a known shift: one action before it, three in it (one failed, one
/// refused with only an outcome, one whose outcome never came), one after it.
fn known_audit_log() -> Vec<AuditRecord> {
    vec![
        record("a0", Phase::Intent, "2026-01-15T01:00:00.000Z", None),
        record(
            "a0",
            Phase::Outcome,
            "2026-01-15T01:00:01.500Z",
            Some(Outcome::Ok),
        ),
        record("a1", Phase::Intent, "2026-01-15T03:10:00.000Z", None),
        record(
            "a1",
            Phase::Outcome,
            "2026-01-15T03:10:01.500Z",
            Some(Outcome::Ok),
        ),
        // The same record twice, as when the local file and the shared history both hold it.
        record(
            "a1",
            Phase::Outcome,
            "2026-01-15T03:10:01.500Z",
            Some(Outcome::Ok),
        ),
        record("a2", Phase::Intent, "2026-01-15T04:00:00.000Z", None),
        record(
            "a2",
            Phase::Outcome,
            "2026-01-15T04:00:01.500Z",
            Some(Outcome::Failed),
        ),
        record(
            "a3",
            Phase::Outcome,
            "2026-01-15T05:00:00.000Z",
            Some(Outcome::Refused),
        ),
        record("a4", Phase::Intent, "2026-01-15T06:00:00.000Z", None),
        record("a5", Phase::Intent, "2026-01-15T11:00:00.000Z", None),
    ]
}

fn entry(id: &str, kind: EntryKind, time: &str, text: &str) -> ShiftEntry {
    ShiftEntry {
        id: id.into(),
        kind,
        time: time.into(),
        author: "kris".into(),
        console_host: "berlin-laptop".into(),
        text: text.into(),
        owner: None,
        until: None,
        closes: None,
    }
}

fn known_shift_log() -> Vec<ShiftEntry> {
    vec![
        entry(
            "n0",
            EntryKind::Note,
            "2026-01-15T01:30:00Z",
            "before the shift",
        ),
        entry(
            "n1",
            EntryKind::Note,
            "2026-01-15T03:05:00Z",
            "pull queue at 2M | growing\u{1b}[2J\u{1b}]52;c;aGk=\u{7} *fast*",
        ),
        entry(
            "n2",
            EntryKind::Note,
            "2026-01-15T04:30:00Z",
            "replica caught up\nsecond line",
        ),
        ShiftEntry {
            owner: Some("alex".into()),
            ..entry(
                "i1",
                EntryKind::OpenItem,
                "2026-01-15T04:40:00Z",
                "find who floods pull",
            )
        },
        ShiftEntry {
            owner: Some("kris".into()),
            ..entry(
                "i2",
                EntryKind::OpenItem,
                "2026-01-15T04:41:00Z",
                "done already",
            )
        },
        ShiftEntry {
            closes: Some("i2".into()),
            ..entry("d1", EntryKind::Done, "2026-01-15T05:00:00Z", "")
        },
        ShiftEntry {
            until: Some("2026-01-15T14:00:00Z".into()),
            owner: Some("alex".into()),
            ..entry(
                "m1",
                EntryKind::Mitigation,
                "2026-01-15T03:20:00Z",
                "registrations closed",
            )
        },
        ShiftEntry {
            until: Some("2026-01-15T09:00:00Z".into()),
            ..entry(
                "m2",
                EntryKind::Mitigation,
                "2026-01-15T03:25:00Z",
                "pull weight lowered to 1",
            )
        },
        ShiftEntry {
            until: Some("2026-01-15T12:00:00Z".into()),
            ..entry(
                "s1",
                EntryKind::Silence,
                "2026-01-15T03:30:00Z",
                "QueueLatencyHigh for pull",
            )
        },
    ]
}

#[test]
fn the_report_of_a_known_shift_renders_exactly() {
    let audit = known_audit_log();
    let entries = known_shift_log();
    let handoff = report::build(Inputs {
        id: "h1".into(),
        written_at: at("2026-01-15T10:00:00Z"),
        from: Person {
            name: "kris".into(),
            zone: "Europe/Berlin".into(),
        },
        to: Person {
            name: "alex".into(),
            zone: "America/New_York".into(),
        },
        console_host: "berlin-laptop".into(),
        console_id: "berlin-laptop:1:x".into(),
        window: (at("2026-01-15T02:00:00Z"), at("2026-01-15T10:00:00Z")),
        fleet_source: "live snapshot taken when the report was written".into(),
        not_ok: vec![
            ComponentProblem {
                id: "postgres/replica".into(),
                level: "CRIT".into(),
                reasons: vec!["replication lag 45 s ≥ 30 s".into()],
            },
            ComponentProblem {
                id: "sidekiq/main".into(),
                level: "WARN".into(),
                reasons: vec![
                    "queue pull latency 120 s ≥ 60 s".into(),
                    "evil\u{1b}[31m|cell".into(),
                ],
            },
        ],
        audit: &audit,
        entries: &entries,
        alertmanager_silences: None,
        gaps: vec![],
    });
    assert_eq!(
        handoff
            .actions
            .iter()
            .map(|a| a.action_id.as_str())
            .collect::<Vec<_>>(),
        vec!["a1", "a2", "a3", "a4"],
        "exactly the actions in the window, once each"
    );
    let md = markdown::render(&handoff);
    assert!(!md.contains('\u{1b}') && !md.contains('\u{7}'), "{md:?}");
    insta::assert_snapshot!("handoff_known_shift", md);
}

#[test]
fn unknown_zones_are_refused_clearly() {
    let (cfg, _) = mastop::config::load_str(
        "[handoff]\nzone = \"Europe/Berlin\"\n[handoff.people]\nalex = \"America/New_York\"\n",
        "test.toml",
        &[],
    )
    .expect("valid config");
    let alex = incoming(&cfg, "alex", None).expect("alex is in [handoff.people]");
    assert_eq!(alex.zone, "America/New_York");
    let err = incoming(&cfg, "sam", None).expect_err("sam has no zone");
    assert!(
        err.contains("--to-zone") && err.contains("[handoff.people]"),
        "{err}"
    );
    let err = incoming(&cfg, "sam", Some("Mars/Base")).expect_err("no such zone");
    assert!(err.contains("unknown time zone `Mars/Base`"), "{err}");

    let err = mastop::config::load_str("[handoff]\nzone = \"Europe/Berln\"\n", "test.toml", &[])
        .expect_err("a misspelt zone is a config error");
    let text = err.to_string();
    assert!(
        text.contains("Europe/Berln") && text.contains("zone"),
        "{text}"
    );
}

async fn shift_on(pg: &Postgres, role: Role, who: &str, host: &str) -> (Shift, tempfile::TempDir) {
    let store = match guarded("connect", PgStore::connect(&ops_config(pg.url(), DEADLINE))).await {
        Ok(s) => s,
        Err(e) => panic!("connect to the ops store failed: {e}\n{}", pg.log_tail()),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let shift = Shift::new(
        session(role, who, host),
        Zone::named("Europe/Berlin").expect("zone"),
        LocalHandoffs::new(dir.path().to_path_buf()),
        Some(Arc::new(store) as Arc<dyn HandoffStore>),
    );
    (shift, dir)
}

fn draft(to: &str, zone: &str, audit: Vec<AuditRecord>) -> Draft {
    let now = SystemTime::now();
    Draft {
        to: Person {
            name: to.into(),
            zone: zone.into(),
        },
        window: (now - Duration::from_secs(8 * 3600), now),
        fleet_source: "live snapshot".into(),
        not_ok: vec![],
        audit,
        alertmanager_silences: None,
        gaps: vec![],
    }
}

/// Writes the shift log and a handoff on `outgoing`; `incoming` sees it waiting, the shadow
/// cannot acknowledge, the writer cannot either, the incoming engineer does, and the
/// writer then sees who acknowledged it.
async fn round_trip(outgoing: &Shift, incoming: &Shift, shadow: &Shift) -> String {
    let note = outgoing.entry(EntryKind::Note, "failed over redis-2", None, None, None);
    let saved = guarded("note", outgoing.add(note))
        .await
        .expect("note saved");
    assert_eq!(saved.shared_error, None);
    let until = SystemTime::now() + Duration::from_secs(4 * 3600);
    let mitigation = outgoing.entry(
        EntryKind::Mitigation,
        "registrations closed",
        Some("alex".into()),
        Some(until),
        None,
    );
    guarded("mitigation", outgoing.add(mitigation))
        .await
        .expect("mitigation saved");

    assert!(
        guarded("waiting", incoming.waiting())
            .await
            .expect("read")
            .is_none(),
        "nothing to acknowledge before the handoff is written"
    );
    let mut audit = known_audit_log();
    let now =
        humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(60)).to_string();
    for r in &mut audit {
        r.time = now.clone();
    }
    let written = guarded(
        "write",
        outgoing.write(draft("alex", "America/New_York", audit)),
    )
    .await
    .expect("handoff written");
    assert_eq!(written.notes.len(), 1);
    assert_eq!(written.mitigations.len(), 1);
    assert_eq!(written.actions.len(), 6, "a0..a5, each once");

    let waiting = guarded("waiting", incoming.waiting())
        .await
        .expect("read")
        .expect("the next console sees the handoff");
    assert_eq!(waiting.id, written.id);
    assert_eq!(waiting.to.name, "alex");
    assert!(markdown::render(&waiting).contains("failed over redis-2"));
    assert!(
        guarded("own", outgoing.waiting())
            .await
            .expect("read")
            .is_none(),
        "the writer is not asked to acknowledge its own handoff"
    );

    let err = guarded("shadow ack", shadow.acknowledge(&written.id))
        .await
        .expect_err("shadow never acknowledges");
    assert!(err.contains("shadow"), "{err}");
    let err = guarded(
        "shadow note",
        shadow.add(shadow.entry(EntryKind::Note, "hi", None, None, None)),
    )
    .await
    .expect_err("shadow never writes");
    assert!(err.contains("shadow"), "{err}");
    assert!(
        guarded("shadow reads", shadow.store().latest())
            .await
            .expect("read")
            .is_some(),
        "shadow reads handoffs"
    );
    let err = guarded("self ack", outgoing.acknowledge(&written.id))
        .await
        .expect_err("the writer cannot acknowledge");
    assert!(err.contains("written on this console"), "{err}");

    let acked = guarded("ack", incoming.acknowledge(&written.id))
        .await
        .expect("acknowledged");
    let ack = acked.acknowledged.expect("recorded");
    assert_eq!(ack.by, "alex");
    assert_eq!(ack.console_host, "nyc-desktop");
    // Acknowledging again from the same console is a repeat, not an error.
    guarded("ack again", incoming.acknowledge(&written.id))
        .await
        .expect("repeat");

    let seen = guarded("outgoing reads", outgoing.store().latest())
        .await
        .expect("read")
        .expect("present");
    let seen_ack = seen
        .acknowledged
        .clone()
        .expect("the outgoing console sees the acknowledgement");
    assert_eq!(seen_ack.by, "alex");
    assert!(markdown::render(&seen).contains("Acknowledged by alex on nyc-desktop"));
    assert!(
        guarded("waiting", incoming.waiting())
            .await
            .expect("read")
            .is_none()
    );
    written.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_round_trips_between_two_consoles_through_the_ops_store() {
    let pg = Postgres::start();
    let (kris, _a) = shift_on(&pg, Role::Oncall, "kris", "berlin-laptop").await;
    let (alex, _b) = shift_on(&pg, Role::Oncall, "alex", "nyc-desktop").await;
    let (sam, _c) = shift_on(&pg, Role::Shadow, "sam", "volunteer").await;
    let id = round_trip(&kris, &alex, &sam).await;
    assert_eq!(
        pg.psql(&format!(
            "SELECT acknowledged_by || ' ' || acknowledged_host FROM mastop_handoffs WHERE id = '{id}'"
        )),
        "alex nyc-desktop",
        "the acknowledgement is recorded in the database"
    );
    assert_eq!(pg.psql("SELECT count(*) FROM mastop_shift_log"), "2");
}

#[tokio::test]
async fn a_handoff_round_trips_between_two_consoles_on_one_machine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let on = |role, who: &str, host: &str| {
        Shift::new(
            session(role, who, host),
            Zone::utc(),
            LocalHandoffs::new(dir.path().to_path_buf()),
            None,
        )
    };
    let (kris, alex, sam) = (
        on(Role::Oncall, "kris", "berlin-laptop"),
        on(Role::Oncall, "alex", "nyc-desktop"),
        on(Role::Shadow, "sam", "volunteer"),
    );
    round_trip(&kris, &alex, &sam).await;
}

#[tokio::test]
async fn a_hanging_ops_store_loses_no_note_and_says_why() {
    let hole = BlackHole::start();
    let url = format!("postgres://ops@127.0.0.1:{}/mastop_ops", hole.port());
    let dir = tempfile::tempdir().expect("tempdir");
    let shift = Shift::new(
        session(Role::Oncall, "kris", "berlin-laptop"),
        Zone::utc(),
        LocalHandoffs::new(dir.path().to_path_buf()),
        Some(Arc::new(SharedHandoffs::new(ops_config(
            url,
            Duration::from_millis(300),
        ))) as _),
    );
    let note = shift.entry(EntryKind::Note, "pull queue draining", None, None, None);
    let saved = guarded("note to a black hole", shift.add(note))
        .await
        .expect("kept locally");
    let err = saved.shared_error.expect("the shared store did not answer");
    assert!(
        err.contains("kept on this machine") && err.contains("no answer"),
        "{err}"
    );
    let local = shift
        .local()
        .entries_since_now(SystemTime::UNIX_EPOCH)
        .expect("local log readable");
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].text, "pull queue draining");

    let err = guarded(
        "write to a black hole",
        shift.write(draft("alex", "UTC", vec![])),
    )
    .await
    .expect_err("not shared");
    assert!(
        err.contains("NOT shared") && err.contains("saved on this machine"),
        "{err}"
    );
    assert!(
        shift.local().latest_now().expect("read").is_some(),
        "the report is kept on this machine"
    );
    let (entries, gaps) = guarded("read", shift.entries_since(SystemTime::UNIX_EPOCH)).await;
    assert_eq!(entries.len(), 1);
    assert!(
        gaps.iter().any(|g| g.contains("shared shift log")),
        "{gaps:?}"
    );
}

#[tokio::test]
async fn bad_entries_and_ids_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shift = Shift::new(
        session(Role::Oncall, "kris", "berlin-laptop"),
        Zone::utc(),
        LocalHandoffs::new(dir.path().to_path_buf()),
        None,
    );
    let no_deadline = shift.entry(EntryKind::Mitigation, "rebalanced queues", None, None, None);
    let err = shift
        .add(no_deadline)
        .await
        .expect_err("a mitigation needs an undo-by time");
    assert!(err.contains("undone by"), "{err}");
    let err = shift
        .store()
        .handoff("../../etc/passwd")
        .await
        .expect_err("not an id");
    assert!(err.contains("not a handoff id"), "{err}");
    let err = shift.acknowledge("nosuchid").await.expect_err("unknown");
    assert!(err.contains("no handoff nosuchid"), "{err}");
    // A torn line in the shift log does not hide the rest.
    shift
        .add(shift.entry(EntryKind::Note, "first", None, None, None))
        .await
        .expect("saved");
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(shift.local().log_path())
        .and_then(|mut f| f.write_all(b"{\"id\":\"torn"))
        .expect("tear");
    let entries = shift
        .local()
        .entries_since_now(SystemTime::UNIX_EPOCH)
        .expect("read");
    assert_eq!(entries.len(), 1);
}
