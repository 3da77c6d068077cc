//! The Postgres source against a real server started by the harness.

use crate::support;

use std::time::Duration;

use mastop::config::{EndpointConfig, SecretRef};
use mastop::model::Reading;
use mastop::sources::postgres::{PostgresReading, PostgresSource};
use mastop::sources::{PollError, Schedule, Source};
use support::pgbouncer::PgBouncer;
use support::{CountingProxy, Postgres, PostgresOptions, Proxy};

/// A hang guard only: a healthy poll against a local server takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// Bounds retry loops that wait for the server to notice something (a closed session).
const MAX_ATTEMPTS: usize = 200;

fn endpoint(url: String, password: Option<SecretRef>) -> EndpointConfig {
    EndpointConfig {
        password,
        ..EndpointConfig::new("primary", url)
    }
}

fn source(url: String) -> PostgresSource {
    source_with(url, None)
}

fn source_with(url: String, password: Option<SecretRef>) -> PostgresSource {
    let schedule = Schedule {
        cadence: Duration::from_secs(1),
        deadline: Duration::from_secs(10),
    };
    PostgresSource::new(&endpoint(url, password), schedule)
}

async fn poll(source: &mut PostgresSource) -> Result<PostgresReading, PollError> {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")?;
    Ok(reading
        .as_any()
        .downcast_ref::<PostgresReading>()
        .expect("the postgres source returns a PostgresReading")
        .clone())
}

async fn poll_ok(source: &mut PostgresSource) -> PostgresReading {
    match poll(source).await {
        Ok(r) => r,
        Err(e) => panic!("poll failed: {e:?}"),
    }
}

/// Polls until `done` holds, for things the server reports a moment after they happen.
async fn poll_until(
    source: &mut PostgresSource,
    what: &str,
    done: impl Fn(&PostgresReading) -> bool,
) -> PostgresReading {
    for _ in 0..MAX_ATTEMPTS {
        let reading = poll_ok(source).await;
        if done(&reading) {
            return reading;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never saw {what}");
}

#[tokio::test]
async fn reads_version_settings_and_size_from_a_real_server() {
    let pg = Postgres::start();
    let mut src = source(pg.url());
    let r = poll_ok(&mut src).await;

    assert_eq!(r.server.version, pg.psql("SHOW server_version"));
    assert_eq!(
        r.server.version_num.to_string(),
        pg.psql("SHOW server_version_num")
    );
    assert_eq!(r.server.database, "postgres");
    assert!(!r.server.in_recovery);
    assert!(r.replica.is_none(), "a primary has no replica status");
    assert_eq!(
        r.connections.max_connections.to_string(),
        pg.psql("SHOW max_connections")
    );
    let reserved = pg.psql(
        "SELECT current_setting('superuser_reserved_connections')::int
              + coalesce(current_setting('reserved_connections', true)::int, 0)",
    );
    assert_eq!(r.connections.reserved.to_string(), reserved);
    assert!(
        r.connections.total >= 1,
        "mastop's own session takes a slot"
    );
    assert!(r.connections.used_pct > 0.0);
    assert!(r.database.size_bytes.is_some_and(|b| b > 0));
    assert!(r.database.xact_commit > 0);
    assert_eq!(r.sessions.hidden, 0, "the superuser sees every session");

    // Tagged so operators can tell mastop's session apart, and only one per node.
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop'"),
        "1"
    );
    let r2 = poll_ok(&mut src).await;
    assert!(
        r2.database.xact_per_sec.is_some(),
        "the second poll has a rate"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop'"),
        "1"
    );

    // What the views and `snapshot --json` get.
    let keys: Vec<&str> = r2.figures().iter().map(|f| f.key).collect();
    for key in [
        "connections_used_pct",
        "longest_xact_s",
        "idle_in_xact_max_s",
        "database_size_bytes",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(r2.key_figure(), Some("connections_used_pct"));
    assert!(r2.summary().contains("primary"), "{}", r2.summary());
    let titles: Vec<String> = r2
        .detail()
        .sections
        .iter()
        .map(|s| s.title.clone())
        .collect();
    assert_eq!(titles[..2], ["server", "connections by state"]);
    let json = r2.to_json();
    assert_eq!(
        json["connections"]["max_connections"].as_i64(),
        Some(r2.connections.max_connections)
    );
    assert_eq!(json["server"]["in_recovery"].as_bool(), Some(false));
}

/// `(query, calls, plans)` of mastop's tagged statements since the last reset.
fn mastop_statements(pg: &Postgres) -> Vec<(String, i64, i64)> {
    pg.psql(
        "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, plans FROM pg_stat_statements
         WHERE query LIKE '/* mastop */%' AND query NOT LIKE '%pg_stat_statements_reset%'",
    )
    .lines()
    .filter_map(|line| {
        let mut cols = line.rsplitn(3, '|');
        let plans = cols.next()?.parse().ok()?;
        let calls = cols.next()?.parse().ok()?;
        Some((cols.next()?.to_string(), calls, plans))
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_is_two_prepared_statements_and_one_scan_of_the_backends() {
    let pg = Postgres::start_with(PostgresOptions {
        preload: vec!["pg_stat_statements".into()],
        settings: vec![("pg_stat_statements.track_planning".into(), "on".into())],
        ..PostgresOptions::default()
    });
    pg.psql("CREATE EXTENSION pg_stat_statements");
    let proxy = CountingProxy::start(pg.port());
    let url = pg
        .url()
        .replace(&format!(":{}/", pg.port()), &format!(":{}/", proxy.port()));
    let app = pg.client().await;
    app.batch_execute("BEGIN; SELECT 1")
        .await
        .expect("an idle transaction to count");
    // Default tiers: after the first poll, only what every refresh reads.
    let mut src = source(url);
    poll_ok(&mut src).await;
    pg.psql("SELECT pg_stat_statements_reset()");
    proxy.reset();

    const POLLS: i64 = 10;
    for _ in 0..POLLS {
        let r = poll_ok(&mut src).await;
        assert_eq!(r.sessions.idle_in_transaction, 1, "{:?}", r.sessions);
        assert!(r.views.activity.is_some() && r.views.sessions_by.is_some());
        assert_eq!(r.views.standbys.as_deref().map(<[_]>::len), Some(0));
    }
    // The two go out pipelined (the driver may still flush them apart), and neither is
    // prepared again, which would cost a round trip of its own.
    let round_trips = proxy.round_trips() as i64;
    assert!(
        (POLLS..=2 * POLLS).contains(&round_trips),
        "{round_trips} round trips for {POLLS} refreshes"
    );
    let stats = mastop_statements(&pg);
    let calls: i64 = stats.iter().map(|(_, c, _)| c).sum();
    assert_eq!(calls, 2 * POLLS, "two statements per refresh: {stats:#?}");
    let scans: i64 = stats
        .iter()
        .filter(|(q, _, _)| {
            [
                "pg_stat_activity",
                "pg_stat_get_activity",
                "pg_stat_replication",
            ]
            .iter()
            .any(|reads_the_array| q.contains(reads_the_array))
        })
        .map(|(_, c, _)| c)
        .sum();
    assert_eq!(
        scans, POLLS,
        "one read of the backend array per refresh: {stats:#?}"
    );
    let plans: i64 = stats.iter().map(|(_, _, p)| p).sum();
    assert_eq!(
        plans, 0,
        "prepared once per session, never planned again: {stats:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_prepared_again_on_a_new_session() {
    let pg = Postgres::start_with(PostgresOptions {
        preload: vec!["pg_stat_statements".into()],
        settings: vec![("pg_stat_statements.track_planning".into(), "on".into())],
        ..PostgresOptions::default()
    });
    pg.psql("CREATE EXTENSION pg_stat_statements");
    let mut src = source(pg.url());
    poll_ok(&mut src).await;
    pg.psql("SELECT pg_stat_statements_reset()");
    pg.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mastop'",
    );
    // The first poll finds its session gone and reconnects; the new session prepares afresh.
    for _ in 0..3 {
        poll_ok(&mut src).await;
    }
    let stats = mastop_statements(&pg);
    let per_refresh: Vec<&(String, i64, i64)> = stats.iter().filter(|(_, c, _)| *c == 3).collect();
    assert_eq!(per_refresh.len(), 2, "{stats:#?}");
    assert!(
        per_refresh.iter().all(|(_, _, plans)| *plans == 1),
        "planned once on the new session: {stats:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_pooler_that_loses_prepared_statements_every_poll_still_reads() {
    let pg = Postgres::start();
    let bouncer = PgBouncer::start(&pg);
    let app = {
        let (client, connection) = tokio_postgres::connect(&bouncer.url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect through PgBouncer: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    };
    let mut src = source(bouncer.url());
    for _ in 0..6 {
        poll_ok(&mut src).await;
        // Another client takes the server connection mastop just used (PgBouncer hands out
        // the most recent one), so mastop's next transaction lands on another.
        app.batch_execute("BEGIN; SELECT 1")
            .await
            .expect("a pooled transaction");
        poll_ok(&mut src).await;
        app.batch_execute("COMMIT").await.expect("commit");
    }
}

#[tokio::test]
async fn connection_counts_follow_extra_sessions() {
    let pg = Postgres::start();
    let mut src = source(pg.url());
    // The harness's own psql sessions leave a moment after psql exits.
    poll_until(&mut src, "mastop alone on the server", |r| {
        r.connections.total == 1
    })
    .await;

    let extra = [pg.client().await, pg.client().await, pg.client().await];
    let during = poll_ok(&mut src).await;
    assert_eq!(during.connections.total, 4, "{:?}", during.connections);
    assert_eq!(during.sessions.idle, 3, "{:?}", during.sessions);
    assert_eq!(
        during.sessions.active, 0,
        "mastop does not count itself as active"
    );

    drop(extra);
    poll_until(&mut src, "the extra sessions gone", |r| {
        r.connections.total == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_transactions_aborted_ones_and_lock_waits_are_seen() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE statuses (id int)");
    let mut src = source(pg.url());

    let idle = pg.client().await;
    idle.batch_execute("BEGIN; SELECT 1")
        .await
        .expect("open a transaction and leave it idle");
    let r = poll_until(&mut src, "an idle transaction with an age", |r| {
        r.sessions.idle_in_transaction == 1
            && r.sessions.idle_in_xact_max_s.is_some_and(|s| s > 0.0)
    })
    .await;
    let longest = r
        .sessions
        .longest_xact_s
        .expect("an open transaction has an age");
    let idle_for = r.sessions.idle_in_xact_max_s.expect("checked above");
    assert!(
        longest >= idle_for,
        "the transaction began before it went idle: {longest} < {idle_for}"
    );
    let row = r.detail().sections[1].clone();
    assert!(format!("{row:?}").contains("idle in transaction"));

    let aborted = pg.client().await;
    aborted.batch_execute("BEGIN").await.expect("begin");
    aborted
        .batch_execute("SELECT 1/0")
        .await
        .expect_err("division by zero aborts the transaction");
    let r = poll_until(&mut src, "an aborted idle transaction", |r| {
        r.sessions.idle_in_transaction_aborted == 1
    })
    .await;
    assert!(
        r.findings()
            .iter()
            .any(|f| f.message.contains("aborted transaction")),
        "{:?}",
        r.findings()
    );

    let holder = pg.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("take the lock");
    let waiter = pg.client().await;
    let blocked = tokio::spawn(async move {
        waiter
            .simple_query("SELECT count(*) FROM statuses")
            .await
            .map(|_| ())
    });
    poll_until(&mut src, "a session waiting on a lock", |r| {
        r.sessions.waiting_on_lock == 1
    })
    .await;
    holder
        .batch_execute("COMMIT")
        .await
        .expect("release the lock");
    tokio::time::timeout(HANG_GUARD, blocked)
        .await
        .expect("the waiter finishes once the lock is released")
        .expect("waiter task")
        .expect("waiter query");
    poll_until(&mut src, "no more lock waits", |r| {
        r.sessions.waiting_on_lock == 0
    })
    .await;
}

#[tokio::test]
async fn a_role_without_pg_read_all_stats_still_gets_a_reading() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE volunteer LOGIN");
    // Another role's session, whose state the volunteer may not see.
    let admin = pg.client().await;
    admin
        .batch_execute("BEGIN; SELECT 1")
        .await
        .expect("open a transaction");

    let mut src = source(pg.url_as("volunteer"));
    let r = poll_ok(&mut src).await;
    assert!(
        r.sessions.hidden >= 1,
        "the superuser's session is hidden: {:?}",
        r.sessions
    );
    assert!(
        r.connections.total >= 2,
        "hidden sessions still count as connections: {:?}",
        r.connections
    );
    assert!(r.summary().contains("hidden"), "{}", r.summary());
    let detail = format!("{:?}", r.detail());
    assert!(
        detail.contains("pg_monitor"),
        "the detail says what to grant: {detail}"
    );

    // With pg_monitor the same role sees everything.
    pg.psql("GRANT pg_monitor TO volunteer");
    let mut src = source(pg.url_as("volunteer"));
    let r = poll_ok(&mut src).await;
    assert_eq!(r.sessions.hidden, 0);
    assert_eq!(r.sessions.idle_in_transaction, 1);
}

#[tokio::test]
async fn refused_roles_are_denied_with_a_clear_message() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE outsider LOGIN");
    pg.psql("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC");
    let mut src = source(pg.url_as("outsider"));
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => {
            assert!(
                msg.contains(&format!("127.0.0.1:{}", pg.port())),
                "names the backend: {msg}"
            );
            assert!(
                msg.contains("permission denied"),
                "says what the server said: {msg}"
            );
            assert!(msg.contains("CONNECT"), "says what to grant: {msg}");
        }
        other => panic!("expected Denied, got {other:?}"),
    }
    // Still denied, still no panic, on the next poll.
    assert!(matches!(poll(&mut src).await, Err(PollError::Denied(_))));

    pg.psql("CREATE ROLE nologin NOLOGIN");
    let mut src = source(pg.url_as("nologin"));
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => assert!(msg.contains("login refused"), "{msg}"),
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[tokio::test]
async fn passwords_come_from_the_secret_reference_and_never_show() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE monitor LOGIN PASSWORD 'correct-horse'");
    pg.require_password("monitor");
    let dir = tempfile::tempdir().expect("tempdir");
    let right = dir.path().join("right");
    let wrong = dir.path().join("wrong");
    std::fs::write(&right, "correct-horse\n").expect("write secret");
    std::fs::write(&wrong, "battery-staple\n").expect("write secret");

    let mut src = source_with(pg.url_as("monitor"), Some(SecretRef::File(right)));
    let r = poll_ok(&mut src).await;
    assert!(r.connections.total >= 1);

    let mut src = source_with(pg.url_as("monitor"), Some(SecretRef::File(wrong)));
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => {
            assert!(
                msg.contains("login refused") && msg.contains("password"),
                "{msg}"
            );
            assert!(
                !msg.contains("battery-staple") && !msg.contains("correct-horse"),
                "{msg}"
            );
        }
        other => panic!("expected Denied, got {other:?}"),
    }

    let mut src = source_with(
        pg.url_as("monitor"),
        Some(SecretRef::File(dir.path().join("missing"))),
    );
    match poll(&mut src).await {
        Err(PollError::Failed(msg)) => assert!(msg.contains("cannot get the password"), "{msg}"),
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_port_fails_with_a_helpful_message() {
    let port = support::free_port();
    let mut src = source(format!(
        "postgres://mastop_test:hunter2@127.0.0.1:{port}/postgres"
    ));
    match poll(&mut src).await {
        Err(PollError::Failed(msg)) => {
            assert!(
                msg.contains(&format!("connect to 127.0.0.1:{port} failed")),
                "{msg}"
            );
            assert!(msg.contains("connection refused"), "{msg}");
            assert!(msg.contains("is PostgreSQL running"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_terminated_session_is_replaced_by_itself() {
    let pg = Postgres::start();
    let mut src = source(pg.url());
    poll_ok(&mut src).await;
    let killed = pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'mastop'");
    assert_eq!(killed, "1");
    // The next poll notices the dead session and reconnects on its own.
    let r = poll_ok(&mut src).await;
    assert!(r.connections.total >= 1);
    assert_eq!(
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop'"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_dropped_mid_query_leaves_the_source_usable() {
    let pg = Postgres::start();
    let proxy = Proxy::start(pg.port());
    let mut src = source(format!(
        "postgres://mastop_test@127.0.0.1:{}/postgres",
        proxy.port()
    ));
    poll_ok(&mut src).await;

    // The server stops answering mid-poll; the scheduler would drop the poll at its deadline.
    proxy.freeze();
    let dropped = tokio::time::timeout(Duration::from_millis(300), src.poll()).await;
    assert!(dropped.is_err(), "the frozen backend cannot have answered");
    proxy.thaw();

    let r = poll_ok(&mut src).await;
    assert!(r.connections.total >= 1);
    assert_eq!(
        proxy.connections(),
        2,
        "the abandoned session was replaced, not reused"
    );
    // The abandoned session goes away on the server too.
    for _ in 0..MAX_ATTEMPTS {
        if pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop'") == "1"
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the abandoned session was never closed");
}

#[tokio::test]
async fn a_replica_reports_recovery_lag_and_paused_replay() {
    let primary = Postgres::start();
    primary.psql("CREATE TABLE statuses (id int)");
    let replica = primary.start_replica();
    let mut src = source(replica.url());

    let r = poll_until(&mut src, "the replica caught up", |r| {
        r.replica.as_ref().is_some_and(|rep| rep.lag_s == Some(0.0))
    })
    .await;
    assert!(r.server.in_recovery);
    assert!(r.summary().contains("replica"), "{}", r.summary());
    let lag = r
        .figures()
        .into_iter()
        .find(|f| f.key == "replication_lag_s")
        .expect("a replica has a lag figure");
    assert_eq!(
        lag.value, 0.0,
        "everything received is replayed: no lag, however idle the primary"
    );
    assert!(r.findings().is_empty(), "{:?}", r.findings());

    // Lag is measured from the last replayed commit, so replay one before pausing.
    primary.psql("INSERT INTO statuses VALUES (0)");
    for _ in 0..MAX_ATTEMPTS {
        if replica.psql("SELECT count(*) FROM statuses") == "1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        replica.psql("SELECT count(*) FROM statuses"),
        "1",
        "the commit reached the replica"
    );

    // Paused replay falls behind as the primary keeps committing.
    replica.psql("SELECT pg_wal_replay_pause()");
    let r = poll_until(&mut src, "replay paused", |r| {
        r.replica.as_ref().is_some_and(|rep| rep.replay_paused)
    })
    .await;
    assert!(
        r.findings()
            .iter()
            .any(|f| f.message.contains("WAL replay is paused")),
        "{:?}",
        r.findings()
    );
    let mut lagging = None;
    for i in 1..MAX_ATTEMPTS {
        primary.psql(&format!("INSERT INTO statuses VALUES ({i})"));
        let r = poll_ok(&mut src).await;
        if r.replica
            .as_ref()
            .and_then(|rep| rep.lag_s)
            .is_some_and(|lag| lag > 0.0)
        {
            lagging = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let r = lagging.expect("a paused replica shows lag once new WAL arrives");
    assert!(
        r.replica
            .as_ref()
            .and_then(|rep| rep.replay_backlog_bytes)
            .is_some_and(|b| b > 0.0)
    );

    replica.psql("SELECT pg_wal_replay_resume()");
    poll_until(&mut src, "the replica caught up again", |r| {
        r.replica
            .as_ref()
            .is_some_and(|rep| rep.lag_s == Some(0.0) && !rep.replay_paused)
    })
    .await;
}
