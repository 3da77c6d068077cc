//! The Postgres source's views against real servers from the harness: blocking chains,
//! ages, replication on both sides, a restricted role, pg_stat_statements, and hostile
//! query text.

use crate::support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::detail::SectionBody;
use mastop::model::{Level, Reading};
use mastop::sources::postgres::{
    Backend, FeatureState, PostgresReading, PostgresSource, Tiers, blocking_chains,
};
use mastop::sources::{Schedule, Source};
use support::{Postgres, PostgresOptions};
use tokio_postgres::{Client, SimpleQueryMessage};

/// A hang guard only: a healthy poll against a local server takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// Bounds retry loops that wait for the server to report something.
const MAX_ATTEMPTS: usize = 400;

fn source(url: &str) -> PostgresSource {
    let endpoint: EndpointConfig = toml::from_str(&format!("name = \"db\"\nurl = \"{url}\""))
        .expect("a minimal endpoint parses");
    let schedule = Schedule {
        cadence: Duration::from_secs(1),
        deadline: Duration::from_secs(10),
    };
    PostgresSource::new(&endpoint, schedule)
}

/// Every tier on every poll, so a test sees medium and slow views at once.
fn every_poll() -> Tiers {
    Tiers {
        medium: Duration::ZERO,
        slow: Duration::ZERO,
        ..Tiers::default()
    }
}

async fn poll(source: &mut PostgresSource) -> PostgresReading {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
        .unwrap_or_else(|e| panic!("poll failed: {e}"));
    reading
        .as_any()
        .downcast_ref::<PostgresReading>()
        .expect("the postgres source returns a PostgresReading")
        .clone()
}

async fn poll_until(
    source: &mut PostgresSource,
    what: &str,
    done: impl Fn(&PostgresReading) -> bool,
) -> PostgresReading {
    for _ in 0..MAX_ATTEMPTS {
        let reading = poll(source).await;
        if done(&reading) {
            return reading;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never saw {what}");
}

/// The first column of the first row, as text.
async fn scalar(client: &Client, sql: &str) -> String {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
    messages
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_else(|| panic!("`{sql}` returned no row"))
}

async fn server_clock(client: &Client) -> f64 {
    scalar(client, "SELECT extract(epoch FROM clock_timestamp())")
        .await
        .parse()
        .expect("a clock reading")
}

async fn pid(client: &Client) -> i32 {
    scalar(client, "SELECT pg_backend_pid()")
        .await
        .parse()
        .expect("a pid is a number")
}

fn backend(r: &PostgresReading, pid: i32) -> Option<&Backend> {
    r.views
        .activity
        .as_ref()
        .and_then(|a| a.backends.iter().find(|b| b.pid == pid))
}

fn table(r: &PostgresReading, title_start: &str) -> mastop::model::TableData {
    let detail = r.detail();
    let section = detail
        .sections
        .into_iter()
        .find(|s| s.title.starts_with(title_start))
        .unwrap_or_else(|| panic!("no section titled {title_start}"));
    match section.body {
        SectionBody::Table(t) => t,
        SectionBody::Pairs(p) => panic!("{title_start} is not a table: {p:?}"),
    }
}

/// pg_stat_statements ships in PostgreSQL's contrib modules.
fn require_pg_stat_statements() {
    let found = std::fs::read_dir("/usr/share/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|major| {
            major
                .path()
                .join("extension/pg_stat_statements.control")
                .is_file()
        });
    assert!(
        found,
        "pg_stat_statements is not installed under /usr/share/postgresql/*/extension: \
         install the Debian package `postgresql-contrib`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_chain_of_three_is_a_tree_with_the_right_root() {
    let pg = Postgres::start();
    pg.psql("CREATE TABLE statuses (id int)");
    let mut src = source(&pg.url());

    let holder = pg.client().await;
    let queued = pg.client().await;
    let reader = pg.client().await;
    let (a, b, c) = (pid(&holder).await, pid(&queued).await, pid(&reader).await);
    holder
        .batch_execute("BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("take the lock");
    let b_task = tokio::spawn(async move {
        queued
            .batch_execute("BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE; COMMIT")
            .await
    });
    let r = poll_until(&mut src, "the second session waiting", |r| {
        backend(r, b).is_some_and(|x| x.blocked_by == [a])
    })
    .await;
    assert_eq!(r.sessions.waiting_on_lock, 1);
    let c_task =
        tokio::spawn(async move { reader.simple_query("SELECT count(*) FROM statuses").await });
    let r = poll_until(&mut src, "the third session queued behind both", |r| {
        backend(r, c).is_some_and(|x| x.blocked_by.len() == 2)
    })
    .await;

    let activity = r.views.activity.as_ref().expect("activity was read");
    let chain: Vec<(i32, usize)> = blocking_chains(&activity.backends)
        .iter()
        .map(|n| (n.pid, n.depth))
        .collect();
    assert_eq!(
        chain,
        [(a, 0), (b, 1), (c, 2)],
        "one chain, rooted at the holder"
    );

    let tree = table(&r, "blocking");
    let labels: Vec<&str> = tree
        .rows
        .iter()
        .map(|row| row.cells[0].text.as_str())
        .collect();
    assert_eq!(
        labels,
        [a.to_string(), format!("└─ {b}"), format!("   └─ {c}")]
    );
    assert_eq!(
        tree.rows[0].level,
        Some(Level::Crit),
        "the root is highlighted"
    );
    assert!(tree.rows[1..].iter().all(|row| row.level.is_none()));
    assert!(
        tree.rows[0]
            .cells
            .iter()
            .any(|cell| cell.text == "idle in transaction"),
        "{:?}",
        tree.rows[0]
    );
    // The row key names exactly that backend.
    let start = pg.psql(&format!(
        "SELECT (extract(epoch FROM backend_start) * 1000000)::int8 FROM pg_stat_activity WHERE pid = {a}"
    ));
    assert_eq!(tree.rows[0].key, Some(format!("{a}:{start}")));
    let root_age = r
        .figures()
        .into_iter()
        .find(|f| f.key == "lock_blocker_age_s")
        .expect("a blocker-age figure");
    assert!(root_age.value > 0.0);

    holder.batch_execute("COMMIT").await.expect("release");
    tokio::time::timeout(HANG_GUARD, b_task)
        .await
        .expect("the queued session finishes")
        .expect("task")
        .expect("lock and commit");
    tokio::time::timeout(HANG_GUARD, c_task)
        .await
        .expect("the reader finishes")
        .expect("task")
        .expect("read");
    let r = poll_until(&mut src, "no more blocking", |r| {
        r.views
            .activity
            .as_ref()
            .is_some_and(|a| blocking_chains(&a.backends).is_empty())
    })
    .await;
    assert!(table(&r, "blocking").rows.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_in_transaction_and_a_long_sleep_show_with_their_ages() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let clock = pg.client().await;

    let _idle = pg.client().await;
    let idle_in_xact = pg.client().await;
    let sleeper = pg.client().await;
    let (iit, sl) = (pid(&idle_in_xact).await, pid(&sleeper).await);

    let before = server_clock(&clock).await;
    idle_in_xact
        .batch_execute("BEGIN; SELECT 1")
        .await
        .expect("open a transaction and leave it idle");
    let between = server_clock(&clock).await;
    let sleep_task =
        tokio::spawn(async move { sleeper.simple_query("SELECT pg_sleep(3600)").await });

    let r = poll_until(&mut src, "both sessions in the activity view", |r| {
        backend(r, iit).is_some() && backend(r, sl).is_some_and(|b| b.state == "active")
    })
    .await;
    let after = server_clock(&clock).await;
    let i = backend(&r, iit).expect("checked");
    let s = backend(&r, sl).expect("checked");
    assert_eq!(i.state, "idle in transaction");
    assert_eq!(s.wait_event.as_deref(), Some("PgSleep"));

    let xact = i.xact_age_s.expect("an open transaction has an age");
    let sleeping = s.query_age_s.expect("a running query has an age");
    assert!(
        xact >= sleeping,
        "the transaction began before the sleep: {xact} < {sleeping}"
    );
    assert!(
        xact <= after - before,
        "the transaction is at most {} old: {xact}",
        after - before
    );
    assert!(
        sleeping <= after - between,
        "the sleep is at most {} old: {sleeping}",
        after - between
    );
    assert!(i.state_age_s.is_some_and(|idle| idle <= xact));
    assert!(s.query.contains("pg_sleep(?)"), "{}", s.query);

    // Idle sessions are counted, not listed.
    let activity = r.views.activity.as_ref().expect("read");
    assert!(activity.backends.iter().all(|b| b.state != "idle"));
    assert!(
        activity
            .backends
            .iter()
            .all(|b| !b.query.contains("mastop")),
        "mastop's own queries are left out"
    );
    let title = r
        .detail()
        .sections
        .iter()
        .map(|s| s.title.clone())
        .find(|t| t.starts_with("activity"))
        .expect("an activity section");
    assert!(title.contains("idle not listed"), "{title}");

    // The horizon lists both open transactions; the sleeper's snapshot holds xmin.
    let horizon = table(&r, "horizon");
    for p in [iit, sl] {
        assert!(
            horizon.rows.iter().any(|row| row
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with(&format!("{p}:")))),
            "{p} missing from {:?}",
            horizon.rows
        );
    }
    let groups = r.views.sessions_by.as_ref().expect("sessions by user");
    let me = groups
        .iter()
        .find(|g| g.user == "mastop_test" && g.application.is_empty())
        .expect("the test's sessions");
    assert_eq!(me.idle_in_xact, 1);
    assert!(me.total >= 4, "{me:?}");

    pg.psql(&format!("SELECT pg_cancel_backend({sl})"));
    let _ = tokio::time::timeout(HANG_GUARD, sleep_task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_replica_shows_lag_on_both_sides_while_replay_is_paused() {
    let primary = Postgres::start();
    primary.psql("CREATE TABLE statuses (id int)");
    let replica = primary.start_replica();
    let mut on_primary = source(&primary.url()).with_tiers(every_poll());
    let mut on_replica = source(&replica.url()).with_tiers(every_poll());

    let r = poll_until(&mut on_primary, "a streaming standby", |r| {
        r.views.standbys.as_ref().is_some_and(|s| {
            s.len() == 1
                && s[0].state.as_deref() == Some("streaming")
                && s[0].replay_bytes == Some(0.0)
        })
    })
    .await;
    let standbys = table(&r, "standbys");
    assert_eq!(standbys.rows.len(), 1);
    let r = poll_until(&mut on_replica, "the replica caught up", |r| {
        r.replica.as_ref().is_some_and(|rep| {
            rep.lag_s == Some(0.0) && rep.receiver.as_deref() == Some("streaming")
        })
    })
    .await;
    assert!(r.findings().is_empty(), "{:?}", r.findings());

    // Lag on the replica counts from the last replayed commit: replay one first.
    primary.psql("INSERT INTO statuses VALUES (0)");
    for _ in 0..MAX_ATTEMPTS {
        if replica.psql("SELECT count(*) FROM statuses") == "1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    replica.psql("SELECT pg_wal_replay_pause()");

    let mut samples: Vec<(f64, f64)> = Vec::new();
    for i in 1..MAX_ATTEMPTS {
        primary.psql(&format!(
            "INSERT INTO statuses SELECT generate_series(1, {i} * 100)"
        ));
        let p = poll(&mut on_primary).await;
        let q = poll(&mut on_replica).await;
        let unreplayed = p
            .views
            .standbys
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|s| s.replay_bytes)
            .unwrap_or(0.0);
        let lag = q.replica.as_ref().and_then(|rep| rep.lag_s).unwrap_or(0.0);
        assert!(q.replica.as_ref().is_some_and(|rep| rep.replay_paused));
        if unreplayed > 0.0 && lag > 0.0 {
            samples.push((unreplayed, lag));
        }
        if samples.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(samples.len(), 2, "lag appeared on both sides while paused");
    assert!(
        samples[1].0 > samples[0].0,
        "unreplayed WAL grows on the primary: {samples:?}"
    );
    assert!(
        samples[1].1 > samples[0].1,
        "replay lag grows on the replica: {samples:?}"
    );
    let p = poll(&mut on_primary).await;
    let keys: Vec<&str> = p.figures().iter().map(|f| f.key).collect::<Vec<_>>();
    assert!(keys.contains(&"standby_lag_bytes"), "{keys:?}");

    replica.psql("SELECT pg_wal_replay_resume()");
    poll_until(&mut on_primary, "the standby replayed everything", |r| {
        r.views
            .standbys
            .as_ref()
            .and_then(|s| s.first())
            .is_some_and(|s| s.replay_bytes == Some(0.0))
    })
    .await;
    poll_until(&mut on_replica, "the replica caught up again", |r| {
        r.replica
            .as_ref()
            .is_some_and(|rep| rep.lag_s == Some(0.0) && !rep.replay_paused)
    })
    .await;
}

#[tokio::test]
async fn a_role_without_pg_read_all_stats_gets_a_degraded_view_without_error_spam() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE volunteer LOGIN");
    let admin = pg.client().await;
    admin
        .batch_execute("BEGIN; SELECT 1")
        .await
        .expect("another role's open transaction");

    const POLLS: usize = 6;
    let mut src = source(&pg.url_as("volunteer")).with_tiers(every_poll());
    let mut last = None;
    for _ in 0..POLLS {
        last = Some(poll(&mut src).await);
    }
    let r = last.expect("polled");
    let feature = |name: &str| {
        r.views
            .features
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("feature {name} listed"))
    };
    let wal = feature("WAL directory");
    assert_eq!(wal.state, FeatureState::Off);
    assert_eq!(wal.attempts, 1, "a refused query is not retried every poll");
    assert!(
        wal.note
            .as_deref()
            .is_some_and(|n| n.contains("pg_monitor")),
        "{wal:?}"
    );
    let top = feature("top queries");
    assert_eq!(
        top.state,
        FeatureState::Off,
        "pg_stat_statements is not installed"
    );
    assert_eq!(top.attempts, 1);
    assert!(
        top.note
            .as_deref()
            .is_some_and(|n| n.contains("CREATE EXTENSION pg_stat_statements")),
        "{top:?}"
    );
    // The backend array is read on every poll, whatever the role may see of it.
    assert!(r.views.activity.is_some() && r.views.sessions_by.is_some());
    assert!(r.views.standbys.is_some());

    // The view says what is missing instead of failing.
    let detail = r.detail();
    let monitoring = detail
        .sections
        .iter()
        .find(|s| s.title == "monitoring")
        .expect("a monitoring section with notes");
    assert!(format!("{monitoring:?}").contains("WAL directory"));
    assert!(r.sessions.hidden >= 1, "{:?}", r.sessions);
    assert!(
        r.views.wraparound.is_some(),
        "unprivileged views still work"
    );
    assert!(r.views.database_sizes.is_some());

    // The server logged each refusal once, not once per poll.
    let log = pg.log();
    let errors = |needle: &str| {
        log.lines()
            .filter(|l| l.contains("ERROR") && l.contains(needle))
            .count()
    };
    assert_eq!(errors("pg_ls_waldir"), 1, "{}", pg.log_tail());
    assert_eq!(errors("pg_stat_statements"), 1, "{}", pg.log_tail());
}

#[tokio::test]
async fn top_queries_come_from_pg_stat_statements_as_redacted_deltas() {
    require_pg_stat_statements();
    let pg = Postgres::start_with(PostgresOptions {
        preload: vec!["pg_stat_statements".into()],
        ..PostgresOptions::default()
    });
    pg.psql("CREATE EXTENSION pg_stat_statements");
    pg.psql("CREATE TABLE accounts (id int, email text)");
    let mut src = source(&pg.url()).with_tiers(every_poll());
    let first = poll(&mut src).await;
    let top = first
        .views
        .top_statements
        .as_ref()
        .expect("statements read");
    assert!(!top.interval, "the first sample shows totals");

    let app = pg.client().await;
    const RUNS: i64 = 7;
    for i in 0..RUNS {
        app.simple_query(&format!(
            "SELECT * FROM accounts WHERE email = 'zq-{i}@example.org'"
        ))
        .await
        .expect("app query");
    }
    let r = poll(&mut src).await;
    let top = r.views.top_statements.as_ref().expect("statements read");
    assert!(top.interval, "the second sample shows deltas");
    let mine = top
        .statements
        .iter()
        .find(|s| {
            s.query
                .as_deref()
                .is_some_and(|q| q.contains("FROM accounts"))
        })
        .unwrap_or_else(|| panic!("the app's query is listed: {top:?}"));
    assert_eq!(mine.calls, RUNS);
    assert!(
        top.statements
            .iter()
            .all(|s| !s.query.as_deref().unwrap_or("").contains("mastop"))
    );
    let shown = format!("{:?}{}", r.detail(), r.to_json());
    assert!(!shown.contains("zq-"), "no literal reaches the screen");
    assert!(!table(&r, "top queries").rows.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_query_text_is_redacted_in_detail_and_json() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let escapes = pg.client().await;
    let huge = pg.client().await;
    let (p1, p2) = (pid(&escapes).await, pid(&huge).await);
    let t1 = tokio::spawn(async move {
        escapes
            .simple_query(
                "SELECT pg_sleep(3600), 'zq-secret\u{1b}[2J\u{1b}]0;owned\u{7}', E'zq\\'esc\\\\', $x$zq-dollar$x$, 98765432123 /* zq comment */",
            )
            .await
    });
    // Longer than track_activity_query_size (1024 bytes): the server cuts the literal.
    let long = format!(
        "SELECT pg_sleep(3600) WHERE 'zq{}' IS NOT NULL",
        "zq".repeat(2000)
    );
    let t2 = tokio::spawn(async move { huge.simple_query(&long).await });

    let r = poll_until(&mut src, "both hostile queries running", |r| {
        backend(r, p1).is_some_and(|b| b.state == "active")
            && backend(r, p2).is_some_and(|b| b.state == "active")
    })
    .await;
    let b1 = backend(&r, p1).expect("checked");
    let b2 = backend(&r, p2).expect("checked");
    assert_eq!(b1.query, "SELECT pg_sleep(?), ?, ?, ?, ?");
    assert!(b2.query.ends_with("?…[truncated]"), "{}", b2.query);
    assert!(
        b1.raw_query.reveal().contains("zq-secret"),
        "the raw text is kept"
    );
    assert!(b2.raw_query.reveal().len() < 1024 + 1);

    let shown = format!("{:?}\n{}\n{:?}", r.detail(), r.to_json(), r);
    assert!(!shown.contains("zq"), "a literal reached the output");
    assert!(!shown.contains('\u{1b}'), "an escape reached the output");
    assert!(!shown.contains("98765432123"));

    pg.psql(&format!(
        "SELECT pg_cancel_backend({p1}), pg_cancel_backend({p2})"
    ));
    let _ = tokio::time::timeout(HANG_GUARD, t1).await;
    let _ = tokio::time::timeout(HANG_GUARD, t2).await;
}

/// Top queries polled on every poll, and a missing extension looked up on every poll too
/// (instead of once a minute), while a refused query still waits its half hour.
fn statements_every_poll() -> Tiers {
    Tiers {
        medium: Duration::ZERO,
        probe_refused: Duration::ZERO,
        ..Tiers::default()
    }
}

fn top_queries(r: &PostgresReading) -> mastop::sources::postgres::FeatureStatus {
    r.views
        .features
        .iter()
        .find(|f| f.name == "top queries")
        .cloned()
        .expect("top queries listed")
}

fn statement_errors(pg: &Postgres) -> usize {
    pg.log()
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("pg_stat_statements"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_stat_statements_created_while_polling_is_picked_up_without_a_restart() {
    require_pg_stat_statements();
    let pg = Postgres::start_with(PostgresOptions {
        preload: vec!["pg_stat_statements".into()],
        ..PostgresOptions::default()
    });
    let mut src = source(&pg.url()).with_tiers(statements_every_poll());
    for _ in 0..3 {
        let r = poll(&mut src).await;
        let top = top_queries(&r);
        assert_eq!(top.state, FeatureState::Off, "{top:?}");
        assert_eq!(
            top.attempts, 1,
            "the refused query is not sent again: {top:?}"
        );
        assert!(r.views.top_statements.is_none());
    }

    pg.psql("CREATE EXTENSION pg_stat_statements");
    // The poll after the extension appears looks it up; the one after reads it.
    let first = poll(&mut src).await;
    assert_eq!(top_queries(&first).state, FeatureState::Off);
    let second = poll(&mut src).await;
    let top = top_queries(&second);
    assert_eq!(top.state, FeatureState::On, "{top:?}");
    assert_eq!(top.attempts, 2);
    assert!(second.views.top_statements.is_some());
    // The look-ups never put an error in the server log: the one refusal is all there is.
    assert_eq!(statement_errors(&pg), 1, "{}", pg.log_tail());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_stat_statements_loaded_by_a_restart_is_picked_up_after_it() {
    require_pg_stat_statements();
    let mut pg = Postgres::start();
    pg.psql("CREATE EXTENSION pg_stat_statements");
    let mut src = source(&pg.url()).with_tiers(statements_every_poll());
    let r = poll(&mut src).await;
    let top = top_queries(&r);
    assert_eq!(top.state, FeatureState::Off, "{top:?}");
    assert!(
        top.note
            .as_deref()
            .is_some_and(|n| n.contains("shared_preload_libraries")),
        "{top:?}"
    );
    // Nothing in the catalog says when a library is loaded: no look-up, no retry.
    for _ in 0..3 {
        assert_eq!(top_queries(&poll(&mut src).await).attempts, 1);
    }
    // A new session on the same server is no reason to try again either.
    pg.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mastop'",
    );
    for _ in 0..2 {
        assert_eq!(top_queries(&poll(&mut src).await).attempts, 1);
    }

    pg.restart_with(PostgresOptions {
        preload: vec!["pg_stat_statements".into()],
        ..PostgresOptions::default()
    });
    // The first poll after the restart sees the server's new start time; the next one
    // tries the refused view again, and it works.
    assert_eq!(top_queries(&poll(&mut src).await).state, FeatureState::Off);
    let r = poll(&mut src).await;
    let top = top_queries(&r);
    assert_eq!(top.state, FeatureState::On, "{top:?}");
    assert_eq!(top.attempts, 2);
    assert!(r.views.top_statements.is_some());
}
