//! The ops store: the shared PostgreSQL store against a real server started by the harness
//! (two `PgStore`s are two consoles), and the local store on a temp dir, with a second
//! process holding a lock.

use crate::support;

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use mastop::actions::audit::{AuditLog, AuditRecord, Phase, new_id, now_rfc3339};
use mastop::actions::store::local::LocalStore;
use mastop::actions::store::{Approval, Freeze, LockHeld, OpsStore};
use mastop::actions::{GuardDecision, Outcome};
use mastop::config::{OpsStoreConfig, SecretRef};
use mastop::store::{PgStore, schema_version};
use support::{BlackHole, Postgres, Proxy};

/// A hang guard only: every call here answers in milliseconds on a healthy machine.
const HANG_GUARD: Duration = Duration::from_secs(60);
/// The per-call deadline for stores that should answer; generous for a loaded machine.
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

async fn console(pg: &Postgres) -> PgStore {
    match guarded("connect", PgStore::connect(&ops_config(pg.url(), DEADLINE))).await {
        Ok(store) => store,
        Err(e) => panic!("connect to the ops store failed: {e}\n{}", pg.log_tail()),
    }
}

fn ok<T>(what: &str, result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Audit times are kept to the millisecond, so times compared with stored ones must be too.
fn whole_millis(time: SystemTime) -> SystemTime {
    humantime::parse_rfc3339(&rfc3339(time)).unwrap_or(time)
}

fn record(kind: &str, key: &str, phase: Phase, time: SystemTime, console: &str) -> AuditRecord {
    AuditRecord {
        id: new_id(),
        action_id: new_id(),
        time: rfc3339(time),
        phase,
        operator: "kris".into(),
        tailscale_login: Some("kris@example.org".into()),
        console_host: "laptop".into(),
        console_id: console.into(),
        role: "oncall".into(),
        kind: kind.into(),
        title: "Restart mastodon-web".into(),
        target: "host/web-1 mastodon-web".into(),
        target_key: key.into(),
        risk: "high".into(),
        operations: vec!["systemctl restart mastodon-web".into()],
        guards: vec![GuardDecision {
            guard: "role".into(),
            passed: true,
            detail: "oncall".into(),
        }],
        outcome: (phase == Phase::Outcome).then_some(Outcome::Ok),
        duration_ms: (phase == Phase::Outcome).then_some(1200),
        error: None,
        result: None,
        runbook: None,
    }
}

fn approval(id: &str, by: &str, console: &str, expires: SystemTime) -> Approval {
    Approval {
        id: id.into(),
        fingerprint: format!("fp-{id}"),
        summary: "Fail over postgres/primary".into(),
        requested_by: by.into(),
        requested_console: console.into(),
        requested_at: now_rfc3339(),
        approved_by: None,
        approved_console: None,
        approved_at: None,
        expires: rfc3339(expires),
    }
}

// ----------------------------------------------------------------------------------------
// Shared store (PostgreSQL)
// ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_create_the_schema_once_even_for_consoles_starting_together() {
    let pg = Postgres::start();
    let config = ops_config(pg.url(), DEADLINE);
    let (a, b) = guarded("two connects", async {
        tokio::join!(PgStore::connect(&config), PgStore::connect(&config))
    })
    .await;
    let (a, b) = (ok("connect a", a), ok("connect b", b));
    assert!(a.is_shared() && b.is_shared());
    assert_eq!(
        pg.psql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM mastop_schema_migrations"
        ),
        (1..=schema_version())
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        pg.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN \
             ('mastop_schema_migrations', 'mastop_audit', 'mastop_locks', 'mastop_freeze', 'mastop_approvals')"
        ),
        "5"
    );
    assert_eq!(
        pg.psql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'mastop_audit_kind_target_time'"
        ),
        "CREATE INDEX mastop_audit_kind_target_time ON public.mastop_audit USING btree (kind, target_key, \"time\")"
    );
    assert_eq!(pg.psql("SELECT data_type FROM information_schema.columns WHERE table_name = 'mastop_audit' AND column_name = 'record'"), "jsonb");
    let applied = pg.psql("SELECT applied_at FROM mastop_schema_migrations");

    let c = console(&pg).await;
    assert_eq!(
        pg.psql("SELECT count(*) FROM mastop_schema_migrations"),
        schema_version().to_string()
    );
    assert_eq!(
        pg.psql("SELECT applied_at FROM mastop_schema_migrations"),
        applied,
        "a later connect changes nothing"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop-ops'"),
        "3",
        "one tagged session per console"
    );
    assert!(
        c.describe().starts_with("ops store postgres://"),
        "{}",
        c.describe()
    );
}

#[tokio::test]
async fn a_database_with_a_newer_schema_is_refused() {
    let pg = Postgres::start();
    drop(console(&pg).await);
    let newer = schema_version() + 1;
    pg.psql(&format!(
        "INSERT INTO mastop_schema_migrations (version, applied_at) VALUES ({newer}, now())"
    ));
    let err = match guarded("connect", PgStore::connect(&ops_config(pg.url(), DEADLINE))).await {
        Ok(_) => panic!("a newer schema must be refused"),
        Err(e) => e,
    };
    assert!(err.contains(&format!("schema version {newer}")), "{err}");
    assert!(err.contains("upgrade mastop"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{}", pg.port())), "{err}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM mastop_schema_migrations"),
        (schema_version() + 1).to_string(),
        "nothing was touched"
    );
}

#[tokio::test]
async fn only_one_console_gets_a_lock_and_the_other_sees_the_holder() {
    let pg = Postgres::start();
    let (a, b) = (console(&pg).await, console(&pg).await);
    let key = "postgres/primary#pid:4121";
    let ttl = Duration::from_secs(120);
    assert_eq!(
        ok(
            "a locks",
            guarded("lock", a.try_lock(key, "console-a", ttl)).await
        ),
        Ok(())
    );
    let held = ok(
        "b tries",
        guarded("lock", b.try_lock(key, "console-b", ttl)).await,
    )
    .expect_err("a holds it");
    assert_eq!(held.holder, "console-a");
    assert!(
        humantime::parse_rfc3339(&held.expires).is_ok_and(|t| t > SystemTime::now()),
        "{held:?}"
    );
    assert_eq!(
        ok(
            "a renews",
            guarded("lock", a.try_lock(key, "console-a", ttl)).await
        ),
        Ok(())
    );
    ok(
        "b unlocks what it does not hold",
        guarded("unlock", b.unlock(key, "console-b")).await,
    );
    assert!(
        ok(
            "b tries again",
            guarded("lock", b.try_lock(key, "console-b", ttl)).await
        )
        .is_err()
    );
    assert_eq!(
        ok(
            "b locks another key",
            guarded(
                "lock",
                b.try_lock("host/web-1#mastodon-web", "console-b", ttl)
            )
            .await
        ),
        Ok(())
    );
    ok(
        "a unlocks",
        guarded("unlock", a.unlock(key, "console-a")).await,
    );
    assert_eq!(
        ok(
            "b locks",
            guarded("lock", b.try_lock(key, "console-b", ttl)).await
        ),
        Ok(())
    );
    assert_eq!(
        pg.psql("SELECT string_agg(holder, ',') FROM mastop_locks"),
        "console-b,console-b"
    );
}

#[tokio::test]
async fn a_crashed_consoles_lock_lapses_at_its_expiry() {
    let pg = Postgres::start();
    let (a, b) = (console(&pg).await, console(&pg).await);
    let key = "redis/main#flushdb";
    let ttl = Duration::from_secs(2);
    assert_eq!(
        ok(
            "a locks",
            guarded("lock", a.try_lock(key, "console-a", ttl)).await
        ),
        Ok(())
    );
    // The console crashes: its session goes, the lock row stays until it expires.
    drop(a);
    let first = ok(
        "b tries",
        guarded("lock", b.try_lock(key, "console-b", ttl)).await,
    );
    let held: LockHeld = first.expect_err("refused before the expiry");
    assert_eq!(held.holder, "console-a");
    let mut refusals = 1;
    let granted = guarded("waiting for the lock to lapse", async {
        loop {
            match b.try_lock(key, "console-b", ttl).await {
                Ok(Ok(())) => break true,
                Ok(Err(still)) => {
                    assert_eq!(still.holder, "console-a");
                    refusals += 1;
                }
                Err(e) => panic!("try_lock failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(granted && refusals >= 1);
    assert_eq!(
        pg.psql("SELECT holder FROM mastop_locks WHERE key = 'redis/main#flushdb'"),
        "console-b"
    );
    assert_eq!(
        pg.psql("SELECT expires_at > now() FROM mastop_locks WHERE key = 'redis/main#flushdb'"),
        "t",
        "the new holder's lock runs from when it was taken"
    );
}

#[tokio::test]
async fn a_freeze_set_by_one_console_is_seen_by_the_other_and_lifted() {
    let pg = Postgres::start();
    let (a, b) = (console(&pg).await, console(&pg).await);
    assert_eq!(ok("read", guarded("freeze", b.freeze()).await), None);
    let freeze = Freeze {
        by: "kris on laptop".into(),
        reason: "database maintenance until 14:00".into(),
        since: now_rfc3339(),
    };
    ok(
        "a freezes",
        guarded("set freeze", a.set_freeze(Some(freeze.clone()))).await,
    );
    assert_eq!(
        ok("b reads", guarded("freeze", b.freeze()).await),
        Some(freeze.clone())
    );
    let again = Freeze {
        reason: "extended".into(),
        ..freeze
    };
    ok(
        "a freezes again",
        guarded("set freeze", a.set_freeze(Some(again.clone()))).await,
    );
    assert_eq!(
        ok("b reads", guarded("freeze", b.freeze()).await),
        Some(again)
    );
    assert_eq!(pg.psql("SELECT count(*) FROM mastop_freeze"), "1");
    ok("b lifts", guarded("lift", b.set_freeze(None)).await);
    assert_eq!(ok("a reads", guarded("freeze", a.freeze()).await), None);
    let bad = Freeze {
        by: "x".into(),
        reason: "y".into(),
        since: "yesterday".into(),
    };
    let err = guarded("set freeze", a.set_freeze(Some(bad)))
        .await
        .expect_err("not a time");
    assert!(err.contains("yesterday"), "{err}");
}

#[tokio::test]
async fn four_eyes_approvals_need_a_second_console_and_an_open_request() {
    let pg = Postgres::start();
    let (a, b, c) = (console(&pg).await, console(&pg).await, console(&pg).await);
    let later = SystemTime::now() + Duration::from_secs(900);
    let request = approval("ap-1", "alice on a", "console-a", later);
    ok(
        "a requests",
        guarded("request", a.request_approval(&request)).await,
    );
    ok(
        "a retries the same request",
        guarded("request", a.request_approval(&request)).await,
    );
    let clash = Approval {
        fingerprint: "other".into(),
        ..request.clone()
    };
    let err = guarded("request", b.request_approval(&clash))
        .await
        .expect_err("id taken");
    assert!(err.contains("ap-1"), "{err}");

    let pending = ok("pending", guarded("pending", b.pending_approvals()).await);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].fingerprint, "fp-ap-1");
    assert_eq!(pending[0].approved_by, None);

    let err = guarded("approve", a.approve("ap-1", "alice on a", "console-a"))
        .await
        .expect_err("self");
    assert!(err.contains("second on-call person"), "{err}");
    let err = guarded("approve", b.approve("ap-1", "alice on a", "console-a2"))
        .await
        .expect_err("same person");
    assert!(err.contains("second on-call person"), "{err}");

    let approved = ok(
        "b approves",
        guarded("approve", b.approve("ap-1", "bob on b", "console-b")).await,
    );
    assert_eq!(approved.approved_by.as_deref(), Some("bob on b"));
    assert_eq!(approved.approved_console.as_deref(), Some("console-b"));
    assert!(approved.approved_at.is_some());
    let again = ok(
        "b approves again",
        guarded("approve", b.approve("ap-1", "bob on b", "console-b")).await,
    );
    assert_eq!(again, approved, "approving twice is the same approval");
    let err = guarded("approve", c.approve("ap-1", "carol on c", "console-c"))
        .await
        .expect_err("already");
    assert!(err.contains("already approved by bob on b"), "{err}");
    assert_eq!(
        ok("a reads", guarded("approval", a.approval("ap-1")).await),
        Some(approved)
    );
    assert!(ok("pending", guarded("pending", a.pending_approvals()).await).is_empty());

    let expired = approval(
        "ap-2",
        "alice on a",
        "console-a",
        SystemTime::now() - Duration::from_secs(1),
    );
    ok(
        "a requests",
        guarded("request", a.request_approval(&expired)).await,
    );
    let err = guarded("approve", b.approve("ap-2", "bob on b", "console-b"))
        .await
        .expect_err("expired");
    assert!(err.contains("expired"), "{err}");
    assert!(ok("pending", guarded("pending", b.pending_approvals()).await).is_empty());
    assert_eq!(
        pg.psql("SELECT count(*) FROM mastop_approvals WHERE approved_at IS NOT NULL"),
        "1"
    );

    let err = guarded("approve", b.approve("nope", "bob on b", "console-b"))
        .await
        .expect_err("unknown");
    assert!(err.contains("no approval request nope"), "{err}");
    assert_eq!(
        ok("read", guarded("approval", b.approval("nope")).await),
        None
    );
}

#[tokio::test]
async fn audit_records_from_one_console_are_read_by_the_other_in_order() {
    let pg = Postgres::start();
    let (a, b) = (console(&pg).await, console(&pg).await);
    let base = whole_millis(SystemTime::now() - Duration::from_secs(3600));
    let at = |s: u64| base + Duration::from_secs(s);
    let (kind, key) = ("host.restart_unit", "host/web-1#mastodon-web");
    let records = vec![
        record(kind, key, Phase::Intent, at(0), "console-a"),
        record(kind, key, Phase::Outcome, at(1), "console-a"),
        record(kind, key, Phase::Intent, at(60), "console-a"),
        record(kind, key, Phase::Outcome, at(70), "console-a"),
        record(
            "redis.flushdb",
            "redis/main",
            Phase::Intent,
            at(80),
            "console-a",
        ),
    ];
    // Written out of order: the history is ordered by time, not by arrival.
    for r in records.iter().rev() {
        ok("a records", guarded("record", a.record(r)).await);
    }
    ok(
        "a records one again",
        guarded("record", a.record(&records[0])).await,
    );
    assert_eq!(pg.psql("SELECT count(*) FROM mastop_audit"), "5");

    let all = ok("b reads", guarded("audit", b.audit_since(None, 100)).await);
    assert_eq!(all, records, "every field survives, oldest first");
    let since = ok(
        "b reads since",
        guarded("audit", b.audit_since(Some(at(60)), 100)).await,
    );
    assert_eq!(
        since.iter().map(|r| &r.id).collect::<Vec<_>>(),
        records[2..].iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    let limited = ok(
        "b reads two",
        guarded("audit", b.audit_since(None, 2)).await,
    );
    assert_eq!(limited, records[..2].to_vec());

    let last = ok("last run", guarded("last_run", b.last_run(kind, key)).await);
    assert_eq!(
        last.map(rfc3339),
        Some(rfc3339(at(60))),
        "the latest intent, not the outcome after it"
    );
    assert_eq!(
        ok(
            "never ran",
            guarded("last_run", b.last_run(kind, "host/web-2#mastodon-web")).await
        ),
        None
    );

    let mut odd = record(kind, key, Phase::Intent, at(90), "console-a");
    odd.operations = vec!["SET x = 'a\0b'".into()];
    ok("a records a NUL", guarded("record", a.record(&odd)).await);
    let back = ok(
        "b reads",
        guarded("audit", b.audit_since(Some(at(90)), 10)).await,
    );
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].operations, vec!["SET x = 'a\u{FFFD}b'".to_string()]);
}

#[tokio::test]
async fn an_unreachable_store_fails_within_the_deadline_with_a_clear_error() {
    let hole = BlackHole::start();
    let url = format!(
        "postgres://ops:hunter2@127.0.0.1:{}/mastop_ops",
        hole.port()
    );
    let err = match guarded(
        "connect to a black hole",
        PgStore::connect(&ops_config(url, Duration::from_millis(500))),
    )
    .await
    {
        Ok(_) => panic!("a black hole is no ops store"),
        Err(e) => e,
    };
    assert!(
        err.contains(&format!("ops store at 127.0.0.1:{}", hole.port())),
        "{err}"
    );
    assert!(err.contains("no answer within 500ms"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // The accept thread counts on its own schedule; wait for it, then check that the
    // store tried once rather than hammering the address.
    guarded("the black hole to count", async {
        while hole.accepted() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(hole.accepted(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_times_out_and_is_reconnected_after() {
    let pg = Postgres::start();
    let proxy = Proxy::start(pg.port());
    let url = format!("postgres://mastop_test@127.0.0.1:{}/postgres", proxy.port());
    let a = ok(
        "connect",
        guarded(
            "connect",
            PgStore::connect(&ops_config(url, Duration::from_secs(1))),
        )
        .await,
    );
    assert_eq!(ok("read", guarded("freeze", a.freeze()).await), None);
    proxy.freeze();
    let err = guarded(
        "a call to a frozen store",
        a.try_lock("k", "console-a", Duration::from_secs(60)),
    )
    .await
    .expect_err("no answer");
    assert!(
        err.contains("take a lock") && err.contains("no answer within 1s"),
        "{err}"
    );
    proxy.thaw();
    assert_eq!(
        ok("read after thaw", guarded("freeze", a.freeze()).await),
        None
    );
    assert_eq!(
        proxy.connections(),
        2,
        "the stuck session was replaced by a new one"
    );
}

#[tokio::test]
async fn a_terminated_session_is_replaced_within_the_same_call() {
    let pg = Postgres::start();
    let a = console(&pg).await;
    assert_eq!(ok("read", guarded("freeze", a.freeze()).await), None);
    assert_eq!(
        pg.psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mastop-ops') t"),
        "1"
    );
    assert_eq!(
        ok("read after terminate", guarded("freeze", a.freeze()).await),
        None
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop-ops'"),
        "1"
    );
}

#[tokio::test]
async fn passwords_come_from_the_secret_reference_and_never_show() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE ops LOGIN PASSWORD 'right-horse'; GRANT CREATE ON SCHEMA public TO ops");
    pg.require_password("ops");
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("ops-password");
    let url = format!("postgres://ops@127.0.0.1:{}/postgres", pg.port());
    let mut config = ops_config(url, DEADLINE);
    config.password = Some(SecretRef::File(secret.clone()));

    std::fs::write(&secret, "wrong-battery\n").expect("write secret");
    let err = match guarded("connect", PgStore::connect(&config)).await {
        Ok(_) => panic!("the wrong password must be refused"),
        Err(e) => e,
    };
    assert!(err.contains("login refused for user ops"), "{err}");
    assert!(!err.contains("wrong-battery"), "{err}");

    std::fs::write(&secret, "right-horse\n").expect("write secret");
    let store = ok(
        "connect",
        guarded("connect", PgStore::connect(&config)).await,
    );
    assert_eq!(
        ok(
            "lock",
            guarded("lock", store.try_lock("k", "console-a", DEADLINE)).await
        ),
        Ok(())
    );
    assert!(!store.describe().contains("right-horse"));
}

// ----------------------------------------------------------------------------------------
// Local store
// ----------------------------------------------------------------------------------------

fn local(dir: &Path) -> LocalStore {
    LocalStore::new(dir.to_path_buf(), AuditLog::new(dir.join("audit.jsonl")))
}

#[tokio::test]
async fn local_locks_contend_between_two_stores_on_one_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (local(dir.path()), local(dir.path()));
    assert!(!a.is_shared());
    let (key, ttl) = ("host/web-1#mastodon-web", Duration::from_secs(120));
    assert_eq!(
        ok("a locks", a.try_lock(key, "console-a", ttl).await),
        Ok(())
    );
    let held = ok("b tries", b.try_lock(key, "console-b", ttl).await).expect_err("a holds it");
    assert_eq!(held.holder, "console-a");
    assert!(
        humantime::parse_rfc3339(&held.expires).is_ok_and(|t| t > SystemTime::now()),
        "{held:?}"
    );
    assert_eq!(
        ok("a renews", a.try_lock(key, "console-a", ttl).await),
        Ok(())
    );
    ok(
        "b unlocks what it does not hold",
        b.unlock(key, "console-b").await,
    );
    assert!(ok("b tries again", b.try_lock(key, "console-b", ttl).await).is_err());
    assert_eq!(
        ok(
            "b locks another key",
            b.try_lock("redis/main", "console-b", ttl).await
        ),
        Ok(())
    );
    ok("a unlocks", a.unlock(key, "console-a").await);
    assert_eq!(
        ok("b locks", b.try_lock(key, "console-b", ttl).await),
        Ok(())
    );
    let held = ok("a tries", a.try_lock(key, "console-a", ttl).await).expect_err("b holds it");
    assert_eq!(held.holder, "console-b");
    // Dropping a store (a console exiting) lets go of its locks.
    drop(b);
    assert_eq!(
        ok("a locks", a.try_lock(key, "console-a", ttl).await),
        Ok(())
    );
}

const CHILD_DIR_ENV: &str = "MASTOP_TEST_LOCK_CHILD_DIR";
const CHILD_KEY: &str = "postgres/primary#vacuum";

/// The lock-holding second process of the test below, which runs this test binary again,
/// for that same test, with `CHILD_DIR_ENV` set. It takes the lock, says so, and waits
/// until its standard input closes (or it is killed).
async fn hold_lock_as_child(dir: &std::ffi::OsStr) {
    let store = local(Path::new(dir));
    match store
        .try_lock(CHILD_KEY, "child console", Duration::from_secs(600))
        .await
    {
        Ok(Ok(())) => println!("LOCK HELD"),
        other => println!("LOCK FAILED {other:?}"),
    }
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_local_lock_held_by_a_killed_process_is_free_at_once() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        return hold_lock_as_child(&dir).await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary path");
    let child = Command::new(exe)
        .args([
            "--exact",
            "ops_store::a_local_lock_held_by_a_killed_process_is_free_at_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the lock-holding child");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("child stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints the test's name on the same line first.
            if let Some(at) = line.find("LOCK ") {
                let _ = tx.send(line[at..].trim_end().to_string());
                return;
            }
        }
    });
    let said = rx
        .recv_timeout(HANG_GUARD)
        .expect("the child neither locked nor failed");
    assert_eq!(said, "LOCK HELD");

    let parent = local(dir.path());
    let ttl = Duration::from_secs(120);
    let held = ok(
        "parent tries",
        parent.try_lock(CHILD_KEY, "parent console", ttl).await,
    )
    .expect_err("the child holds it");
    assert_eq!(held.holder, "child console");

    child.0.kill().expect("kill the child");
    child.0.wait().expect("reap the child");
    assert_eq!(
        ok(
            "parent locks",
            parent.try_lock(CHILD_KEY, "parent console", ttl).await
        ),
        Ok(()),
        "the kernel released the dead process's lock; no expiry to wait for"
    );
}

#[tokio::test]
async fn local_freeze_round_trips_through_an_atomically_replaced_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let (a, b) = (local(&state), local(&state));
    assert_eq!(ok("read", b.freeze().await), None);
    let freeze = Freeze {
        by: "kris on laptop".into(),
        reason: "handoff".into(),
        since: now_rfc3339(),
    };
    ok("a freezes", a.set_freeze(Some(freeze.clone())).await);
    assert_eq!(ok("b reads", b.freeze().await), Some(freeze));
    ok("b lifts", b.set_freeze(None).await);
    assert_eq!(ok("a reads", a.freeze().await), None);
    ok("lifting twice", b.set_freeze(None).await);
    let left: Vec<PathBuf> = std::fs::read_dir(&state)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(left.is_empty(), "no temp files left behind: {left:?}");
}

#[tokio::test]
async fn local_approvals_explain_that_four_eyes_needs_a_shared_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = local(dir.path());
    let request = approval(
        "ap-1",
        "alice",
        "console-a",
        SystemTime::now() + Duration::from_secs(60),
    );
    let errors = [
        store.request_approval(&request).await.err(),
        store.approval("ap-1").await.err(),
        store.approve("ap-1", "bob", "console-b").await.err(),
        store.pending_approvals().await.err(),
    ];
    for err in errors {
        let err = err.expect("every approval call is refused");
        assert!(
            err.contains("four-eyes approval needs a shared ops store"),
            "{err}"
        );
        assert!(err.contains("[ops_store]"), "{err}");
    }
}

#[tokio::test]
async fn local_history_and_last_run_come_from_the_audit_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = local(dir.path());
    let (kind, key) = ("host.restart_unit", "host/web-1#mastodon-web");
    assert_eq!(ok("no file yet", store.last_run(kind, key).await), None);
    assert!(ok("no file yet", store.audit_since(None, 10).await).is_empty());

    let log = AuditLog::new(dir.path().join("audit.jsonl"));
    let base = whole_millis(SystemTime::now() - Duration::from_secs(3600));
    let at = |s: u64| base + Duration::from_secs(s);
    let records = vec![
        record(kind, key, Phase::Intent, at(0), "console-a"),
        record(kind, key, Phase::Outcome, at(1), "console-a"),
        record(kind, key, Phase::Intent, at(60), "console-a"),
        record(kind, key, Phase::Outcome, at(70), "console-a"),
        record(
            "redis.flushdb",
            "redis/main",
            Phase::Intent,
            at(80),
            "console-a",
        ),
    ];
    for r in &records {
        log.append(r).expect("append");
        ok("record", store.record(r).await);
    }
    assert_eq!(
        ok("all", store.audit_since(None, 100).await),
        records,
        "record adds nothing to the file"
    );
    assert_eq!(
        ok("since", store.audit_since(Some(at(60)), 100).await),
        records[2..].to_vec()
    );
    assert_eq!(
        ok("limited", store.audit_since(None, 2).await),
        records[..2].to_vec()
    );
    let last = ok("last run", store.last_run(kind, key).await);
    assert_eq!(
        last.map(rfc3339),
        Some(rfc3339(at(60))),
        "the latest intent, not the outcome after it"
    );
    assert_eq!(
        ok(
            "other target",
            store.last_run(kind, "host/web-2#mastodon-web").await
        ),
        None
    );
    assert_eq!(store.describe(), "local (this machine)");
}
