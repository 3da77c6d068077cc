//! Postgres backend actions through the real guarded pipeline, against real servers from the
//! harness: cancelling or terminating the root of a lock chain unblocks it, a cancel stops
//! a running statement and leaves the session, a terminate ends an idle transaction, a
//! reused pid or a server process is never signalled, a superuser's session is refused to
//! a role that cannot signal it, and shadow reaches no server at all.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use mastop::actions::action::Check;
use mastop::actions::audit::{Outcome, Phase};
use mastop::actions::catalog::Selected;
use mastop::actions::{Action, Confirmation, Operation, Risk, Role, RunResult};
use mastop::config::{Config, EndpointConfig};
use mastop::model::Reading;
use mastop::model::detail::SectionBody;
use mastop::sources::postgres::{Backend, PostgresReading, PostgresSource, RawQuery};
use mastop::sources::{Schedule, Source};
use support::Postgres;
use support::console::{Console, run, run_with};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

const COMPONENT: &str = "postgres/db";
/// A hang guard only: polls and actions against a local server take milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn console(role: Role, postgres: Vec<EndpointConfig>) -> Console {
    Console::new(
        role,
        &Config {
            postgres,
            ..Config::default()
        },
        None,
    )
}
/// Bounds retry loops that wait for the server to report something.
const MAX_ATTEMPTS: usize = 400;

const KINDS: [&str; 4] = [
    "postgres.cancel_query",
    "postgres.terminate_backend",
    "postgres.cancel_blockers",
    "postgres.terminate_blockers",
];

fn endpoint(name: &str, url: &str, write_url: Option<&str>) -> EndpointConfig {
    let write = write_url.map_or_else(String::new, |w| format!("write_url = \"{w}\"\n"));
    toml::from_str(&format!("name = \"{name}\"\nurl = \"{url}\"\n{write}"))
        .expect("a valid [[postgres]] entry")
}

fn oncall(pg: &Postgres) -> Console {
    console(Role::Oncall, vec![endpoint("db", &pg.url(), None)])
}

/// Runs the action's statements with no guard at all, to show what the statements alone
/// do when the target has changed under them.
async fn execute_unguarded(c: &Console, a: &Action) -> String {
    let executor = c.runtime.executor_for(a).expect("on-call has an executor");
    tokio::time::timeout(HANG_GUARD, executor.execute(a))
        .await
        .expect("execute hung past the hang guard")
        .unwrap_or_else(|e| panic!("the statements failed: {e}"))
}

fn source(url: &str) -> PostgresSource {
    PostgresSource::new(
        &endpoint("db", url, None),
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
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

async fn scalar(client: &Client, sql: &str) -> String {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"))
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_else(|| panic!("`{sql}` returned no row"))
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

fn key(r: &PostgresReading, pid: i32) -> String {
    backend(r, pid)
        .unwrap_or_else(|| panic!("pid {pid} is not in the activity view"))
        .key()
}

/// `backend_start` of a live pid, as in the row key; empty once the pid is gone.
fn live_start(pg: &Postgres, pid: i32) -> String {
    pg.psql(&format!(
        "SELECT (extract(epoch FROM backend_start) * 1000000)::int8 FROM pg_stat_activity WHERE pid = {pid}"
    ))
}

/// The detail table starting with `prefix`, checking it has a row `key`: the selection
/// is made exactly as the console makes it.
fn table(r: &PostgresReading, prefix: &str, key: &str) -> String {
    let detail = r.detail();
    let (title, data) = detail
        .sections
        .iter()
        .find_map(|s| match &s.body {
            SectionBody::Table(t) if s.title.starts_with(prefix) => Some((s.title.clone(), t)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {prefix} table in the detail view"));
    assert!(
        data.rows.iter().any(|row| row.key.as_deref() == Some(key)),
        "{title} has no row {key}"
    );
    title
}

fn offered_on(component: &str, r: &PostgresReading, prefix: &str, key: &str) -> Vec<Action> {
    let title = table(r, prefix, key);
    mastop::actions::kinds::offer(
        component,
        "postgres",
        r,
        Some(Selected { table: &title, key }),
    )
}

fn offered(r: &PostgresReading, prefix: &str, key: &str) -> Vec<Action> {
    offered_on(COMPONENT, r, prefix, key)
}

fn pick(actions: &[Action], kind: &str) -> Action {
    let found: Vec<&Action> = actions.iter().filter(|a| a.kind == kind).collect();
    match found.as_slice() {
        [one] => (*one).clone(),
        _ => panic!(
            "expected one {kind}, got {}: {:?}",
            found.len(),
            actions.iter().map(|a| &a.kind).collect::<Vec<_>>()
        ),
    }
}

fn kinds(actions: &[Action]) -> Vec<&str> {
    actions.iter().map(|a| a.kind.as_str()).collect()
}

/// The pids the action's statements name, in the order they run.
fn signalled_pids(a: &Action) -> Vec<String> {
    a.operations
        .iter()
        .map(|op| match op {
            Operation::Sql { params, .. } => params[0].clone(),
            other => panic!("not SQL: {other:?}"),
        })
        .collect()
}

type Answer = Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>;
/// A session's statement, running; it hands the client back so the session outlives it.
type Task = JoinHandle<(Client, Answer)>;

async fn finished(task: Task, what: &str) -> (Client, Answer) {
    tokio::time::timeout(HANG_GUARD, task)
        .await
        .unwrap_or_else(|_| panic!("{what} is still blocked"))
        .expect("the session's task")
}

fn spawn_query(client: Client, sql: &'static str) -> Task {
    tokio::spawn(async move {
        let answer = client.simple_query(sql).await;
        (client, answer)
    })
}

fn cancelled(answer: &Answer) -> bool {
    matches!(answer, Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED))
}

/// Three sessions in a lock chain on `statuses`: A holds an exclusive lock (idle in its
/// transaction, or running a long sleep inside it), B queues for the same lock, C reads
/// behind both. The reading shows the tree rooted at A.
struct Chain {
    a: i32,
    b: i32,
    c: i32,
    /// A's client while A sits idle in its transaction.
    holder: Option<Client>,
    /// A's sleep, when A runs one.
    a_task: Option<Task>,
    b_task: Task,
    c_task: Task,
    reading: PostgresReading,
}

async fn chain(pg: &Postgres, src: &mut PostgresSource, root_running: bool) -> Chain {
    pg.psql("CREATE TABLE IF NOT EXISTS statuses (id int)");
    let holder = pg.client().await;
    let queued = pg.client().await;
    let reader = pg.client().await;
    let (a, b, c) = (pid(&holder).await, pid(&queued).await, pid(&reader).await);
    let (holder, a_task) = if root_running {
        let task = spawn_query(
            holder,
            "BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600)",
        );
        poll_until(src, "the root sleeping with its lock", |r| {
            backend(r, a).is_some_and(|x| x.wait_event.as_deref() == Some("PgSleep"))
        })
        .await;
        (None, Some(task))
    } else {
        holder
            .batch_execute("BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("take the lock");
        (Some(holder), None)
    };
    let b_task = spawn_query(
        queued,
        "BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE; COMMIT",
    );
    poll_until(src, "B waiting for A", |r| {
        backend(r, b).is_some_and(|x| x.blocked_by == [a])
    })
    .await;
    let c_task = spawn_query(reader, "SELECT count(*) FROM statuses");
    let reading = poll_until(src, "C queued behind A and B", |r| {
        backend(r, c).is_some_and(|x| x.blocked_by.len() == 2)
    })
    .await;
    Chain {
        a,
        b,
        c,
        holder,
        a_task,
        b_task,
        c_task,
        reading,
    }
}

/// The action's intent and outcome records, in that order.
fn audited(c: &Console, result: &RunResult) -> Vec<mastop::actions::AuditRecord> {
    let (records, unreadable) = c.audit.read_since(None).expect("audit readable");
    assert_eq!(unreadable, 0);
    records
        .into_iter()
        .filter(|r| r.action_id == result.action_id)
        .collect()
}

fn assert_intent_then_outcome(c: &Console, result: &RunResult, a: &Action) {
    let mine = audited(c, result);
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert_eq!(
        (mine[0].phase, mine[1].phase),
        (Phase::Intent, Phase::Outcome)
    );
    assert_eq!(mine[1].outcome, Some(Outcome::Ok));
    let shown: Vec<String> = a.operations.iter().map(|o| o.display()).collect();
    assert_eq!(mine[0].operations, shown, "the intent holds the exact SQL");
    assert_eq!(mine[0].kind, a.kind);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_the_idle_root_of_a_chain_unblocks_it() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let ch = chain(&pg, &mut src, false).await;
    let root = key(&ch.reading, ch.a);
    let actions = offered(&ch.reading, "blocking", &root);
    // Idle in its transaction: a cancel would reach no statement, so none is offered.
    assert_eq!(
        kinds(&actions),
        ["postgres.terminate_backend", "postgres.terminate_blockers"]
    );
    let terminate = pick(&actions, "postgres.terminate_backend");
    assert_eq!(terminate.target.name, ch.a.to_string());
    assert_eq!(terminate.target.object, format!("pid {}", ch.a));
    assert_eq!(terminate.target.identity.as_deref(), Some(root.as_str()));

    let c = oncall(&pg);
    let clicked = run_with(&c, &terminate, Confirmation::Confirmed).await;
    assert_eq!(
        clicked.outcome,
        Outcome::Refused,
        "a terminate needs the pid typed"
    );
    assert_eq!(live_start(&pg, ch.a), root.split(':').nth(1).unwrap_or(""));

    let result = run(&c, &terminate).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result
            .message
            .contains(&format!("pid {}: terminated", ch.a)),
        "{}",
        result.message
    );
    assert_intent_then_outcome(&c, &result, &terminate);
    assert!(finished(ch.b_task, "B").await.1.is_ok(), "B got the lock");
    assert!(finished(ch.c_task, "C").await.1.is_ok(), "C read the table");
    assert_eq!(live_start(&pg, ch.a), "", "A is gone");
    let holder = ch.holder.expect("A's client");
    assert!(holder.simple_query("SELECT 1").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_running_root_of_a_chain_unblocks_it() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let ch = chain(&pg, &mut src, true).await;
    let actions = offered(&ch.reading, "blocking", &key(&ch.reading, ch.a));
    assert_eq!(kinds(&actions), KINDS);
    let cancel = pick(&actions, "postgres.cancel_query");
    assert_eq!(cancel.risk, Risk::Low);

    let c = oncall(&pg);
    let result = run(&c, &cancel).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result
            .message
            .contains(&format!("pid {}: cancel sent", ch.a)),
        "{}",
        result.message
    );
    assert_intent_then_outcome(&c, &result, &cancel);
    let (_a, a_result) = finished(ch.a_task.expect("A's sleep"), "A").await;
    assert!(
        cancelled(&a_result),
        "A's sleep was cancelled: {a_result:?}"
    );
    assert!(finished(ch.b_task, "B").await.1.is_ok(), "B got the lock");
    assert!(finished(ch.c_task, "C").await.1.is_ok(), "C read the table");
    assert_ne!(live_start(&pg, ch.a), "", "a cancel leaves the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_actions_signal_every_blocker_deepest_first() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let c = oncall(&pg);

    // Terminate every blocker: B (queued ahead of C) and then the idle root A.
    let ch = chain(&pg, &mut src, false).await;
    let actions = offered(&ch.reading, "blocking", &key(&ch.reading, ch.a));
    let terminate = pick(&actions, "postgres.terminate_blockers");
    assert_eq!(
        signalled_pids(&terminate),
        [ch.b.to_string(), ch.a.to_string()]
    );
    assert_eq!(terminate.risk, Risk::High);
    assert_eq!(terminate.target.name, ch.a.to_string());
    let result = run(&c, &terminate).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.message.contains(&format!(
            "pid {}: terminated; pid {}: terminated",
            ch.b, ch.a
        )),
        "{}",
        result.message
    );
    assert_intent_then_outcome(&c, &result, &terminate);
    assert!(
        finished(ch.b_task, "B").await.1.is_err(),
        "B was terminated"
    );
    let (_c, c_answer) = finished(ch.c_task, "C").await;
    assert!(c_answer.is_ok(), "C read the table");
    assert_eq!(live_start(&pg, ch.a), "");
    assert_eq!(live_start(&pg, ch.b), "");
    assert_ne!(live_start(&pg, ch.c), "", "C was only waiting: left alone");

    // Cancel every blocker: B's wait and then A's sleep; C, behind them, completes.
    let ch = chain(&pg, &mut src, true).await;
    let actions = offered(&ch.reading, "blocking", &key(&ch.reading, ch.a));
    let cancel = pick(&actions, "postgres.cancel_blockers");
    assert_eq!(
        signalled_pids(&cancel),
        [ch.b.to_string(), ch.a.to_string()]
    );
    let result = run(&c, &cancel).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.message.contains(&format!(
            "pid {}: cancel sent; pid {}: cancel sent",
            ch.b, ch.a
        )),
        "{}",
        result.message
    );
    let (_b, b_result) = finished(ch.b_task, "B").await;
    assert!(cancelled(&b_result), "B's wait was cancelled: {b_result:?}");
    let (_a, a_result) = finished(ch.a_task.expect("A's sleep"), "A").await;
    assert!(
        cancelled(&a_result),
        "A's sleep was cancelled: {a_result:?}"
    );
    let (_c, c_answer) = finished(ch.c_task, "C").await;
    assert!(c_answer.is_ok(), "C read the table");
    for p in [ch.a, ch.b, ch.c] {
        assert_ne!(live_start(&pg, p), "", "a cancel leaves session {p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleep_is_cancelled_and_an_idle_transaction_terminated_both_audited() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let idle = pg.client().await;
    let sleeper = pg.client().await;
    let (iit, sl) = (pid(&idle).await, pid(&sleeper).await);
    idle.batch_execute("BEGIN; SELECT 1")
        .await
        .expect("open a transaction and leave it idle");
    let sleep = tokio::spawn(async move {
        let result = sleeper.simple_query("SELECT pg_sleep(3600)").await;
        (sleeper, result)
    });
    let r = poll_until(&mut src, "both sessions in the activity view", |r| {
        backend(r, iit).is_some_and(|b| b.state == "idle in transaction")
            && backend(r, sl).is_some_and(|b| b.state == "active")
    })
    .await;
    let c = oncall(&pg);

    let cancel = pick(
        &offered(&r, "activity", &key(&r, sl)),
        "postgres.cancel_query",
    );
    let result = run(&c, &cancel).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(result.message.contains("cancel sent"), "{}", result.message);
    assert_intent_then_outcome(&c, &result, &cancel);
    let (sleeper, slept) = tokio::time::timeout(HANG_GUARD, sleep)
        .await
        .expect("the sleep ended")
        .expect("the sleeper's task");
    assert!(cancelled(&slept), "the client saw a cancel: {slept:?}");
    assert_eq!(
        scalar(&sleeper, "SELECT pg_backend_pid()").await,
        sl.to_string(),
        "the cancelled session is still there"
    );

    let idle_actions = offered(&r, "activity", &key(&r, iit));
    assert_eq!(kinds(&idle_actions), ["postgres.terminate_backend"]);
    let terminate = pick(&idle_actions, "postgres.terminate_backend");
    let result = run(&c, &terminate).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.message.contains(&format!("pid {iit}: terminated")),
        "{}",
        result.message
    );
    assert_intent_then_outcome(&c, &result, &terminate);
    assert_eq!(live_start(&pg, iit), "");
    assert!(idle.simple_query("SELECT 1").await.is_err());

    let (records, _) = c.audit.read_since(None).expect("audit");
    assert_eq!(records.len(), 4, "intent and outcome of each action");
    assert!(
        records.iter().all(|r| !serde_json::to_string(r)
            .expect("record serialises")
            .contains("pg_sleep")),
        "no query text reaches the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_pid_is_refused_and_nothing_is_signalled() {
    let pg = Postgres::start();
    let mut src = source(&pg.url());
    let first = pg.client().await;
    let old_pid = pid(&first).await;
    let _first_sleep = spawn_query(first, "SELECT pg_sleep(3600)");
    let before = poll_until(&mut src, "the first session sleeping", |r| {
        backend(r, old_pid).is_some_and(|b| b.state == "active")
    })
    .await;
    let old = backend(&before, old_pid).expect("checked").clone();
    pg.psql(&format!("SELECT pg_terminate_backend({old_pid}, 5000)"));

    let second = pg.client().await;
    let new_pid = pid(&second).await;
    let second_sleep = spawn_query(second, "SELECT pg_sleep(3600)");
    let now = poll_until(&mut src, "the second session sleeping", |r| {
        backend(r, new_pid).is_some_and(|b| b.state == "active")
    })
    .await;
    let new_start = live_start(&pg, new_pid);
    // The operator's dialog still shows the first session. Its pid was either reused by
    // the second, or is taken here to stand for a reuse: the live pid with the old start.
    let mut stale = now.clone();
    let activity = stale.views.activity.as_mut().expect("activity was read");
    let row = activity
        .backends
        .iter_mut()
        .find(|b| b.pid == new_pid)
        .expect("checked");
    row.backend_start_us = old.backend_start_us;
    row.query_start_us = old.query_start_us;
    let stale_key = row.key();
    assert_ne!(stale_key, key(&now, new_pid));

    let c = oncall(&pg);
    let actions = offered(&stale, "activity", &stale_key);
    assert_eq!(
        kinds(&actions),
        ["postgres.cancel_query", "postgres.terminate_backend"]
    );
    for a in &actions {
        let result = run(&c, a).await;
        assert_eq!(result.outcome, Outcome::Refused, "{}", a.kind);
        assert!(
            result.message.contains("refused by precondition")
                && result
                    .message
                    .contains(&format!("pid {new_pid} now belongs to another session")),
            "{}",
            result.message
        );
        let mine = audited(&c, &result);
        assert_eq!(mine.len(), 1, "one refusal record, no intent");
        assert_eq!(mine[0].outcome, Some(Outcome::Refused));
    }
    // Even run with no guard, the statements' own WHERE leaves the new session alone.
    for a in &actions {
        let said = execute_unguarded(&c, a).await;
        assert!(
            said.contains(&format!("pid {new_pid}: not signalled")),
            "{said}"
        );
    }
    assert_eq!(live_start(&pg, new_pid), new_start, "the new session lives");
    assert!(
        !second_sleep.is_finished(),
        "the new session's sleep was never cancelled"
    );
    second_sleep.abort();
}

/// A reading row claiming `pid` is a running client session: what a reused pid, or a
/// careless reading, could show the operator.
fn posing_as_client(pid: i32, backend_start_us: i64) -> Backend {
    Backend {
        pid,
        backend_start_us,
        query_start_us: Some(backend_start_us),
        user: Some("mastodon".into()),
        application: String::new(),
        client: None,
        database: None,
        backend_type: "client backend".into(),
        state: "active".into(),
        wait_event_type: None,
        wait_event: None,
        xact_age_s: None,
        query_age_s: None,
        state_age_s: None,
        xmin_age: None,
        blocked_by: Vec::new(),
        query: String::new(),
        raw_query: RawQuery::default(),
    }
}

fn process(pg: &Postgres, backend_type: &str) -> Option<(i32, i64)> {
    let out = pg.psql(&format!(
        "SELECT pid, (extract(epoch FROM backend_start) * 1000000)::int8 FROM pg_stat_activity WHERE backend_type = '{backend_type}'"
    ));
    let (pid, start) = out.lines().next()?.split_once('|')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_processes_are_not_offered_and_refused_when_named() {
    let pg = Postgres::start();
    let replica = pg.start_replica();
    let mut src = source(&pg.url());
    let mut walsender = None;
    for _ in 0..MAX_ATTEMPTS {
        walsender = process(&pg, "walsender");
        if walsender.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let walsender = walsender.expect("the replica's walsender");
    let launcher = process(&pg, "autovacuum launcher").expect("the autovacuum launcher");

    let r = poll_until(&mut src, "the walsender in the activity view", |r| {
        backend(r, walsender.0).is_some()
    })
    .await;
    let shown = backend(&r, walsender.0).expect("checked");
    assert_eq!(shown.backend_type, "walsender");
    assert!(
        offered(&r, "activity", &shown.key()).is_empty(),
        "nothing offered on a walsender"
    );
    // The launcher has no state, so the activity view leaves it out; shown as what it is,
    // it would get nothing either.
    let mut with_launcher = r.clone();
    let mut launcher_row = posing_as_client(launcher.0, launcher.1);
    launcher_row.backend_type = "autovacuum launcher".into();
    let launcher_key = launcher_row.key();
    let activity = with_launcher.views.activity.as_mut().expect("read");
    activity.backends.push(launcher_row);
    assert!(
        mastop::actions::kinds::offer(
            COMPONENT,
            "postgres",
            &with_launcher,
            Some(Selected {
                table: "activity",
                key: &launcher_key
            })
        )
        .is_empty()
    );

    // A reading that calls them client sessions gets actions offered; the re-check and
    // the statements themselves refuse them.
    let mut lying = r.clone();
    let activity = lying.views.activity.as_mut().expect("read");
    activity.backends.retain(|b| b.pid != walsender.0);
    activity
        .backends
        .push(posing_as_client(walsender.0, walsender.1));
    activity
        .backends
        .push(posing_as_client(launcher.0, launcher.1));
    let c = oncall(&pg);
    let mut tried = 0;
    for ((pid, start), what) in [(walsender, "walsender"), (launcher, "autovacuum launcher")] {
        let key = format!("{pid}:{start}");
        let actions = mastop::actions::kinds::offer(
            COMPONENT,
            "postgres",
            &lying,
            Some(Selected {
                table: "activity",
                key: &key,
            }),
        );
        assert_eq!(
            kinds(&actions),
            ["postgres.cancel_query", "postgres.terminate_backend"]
        );
        for a in &actions {
            tried += 1;
            let result = run(&c, a).await;
            assert_eq!(result.outcome, Outcome::Refused, "{}", a.kind);
            assert!(
                result
                    .message
                    .contains(&format!("pid {pid} is a {what}, not a client session")),
                "{}",
                result.message
            );
            let said = execute_unguarded(&c, a).await;
            assert!(
                said.contains(&format!("pid {pid}: not signalled")),
                "{said}"
            );
        }
    }
    assert_eq!(tried, 4);
    assert_eq!(
        process(&pg, "walsender"),
        Some(walsender),
        "walsender lives"
    );
    assert_eq!(
        process(&pg, "autovacuum launcher"),
        Some(launcher),
        "launcher lives"
    );
    assert_eq!(replica.psql("SELECT pg_is_in_recovery()"), "t");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_signal_a_session_is_refused_before_confirmation() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE app LOGIN");
    pg.psql("CREATE ROLE ops LOGIN");
    pg.psql("GRANT pg_signal_backend, pg_read_all_stats TO ops");
    pg.psql("CREATE ROLE watcher LOGIN");
    pg.psql("GRANT pg_read_all_stats TO watcher");
    let mut src = source(&pg.url());
    let su = pg.client().await;
    let app = pg.client_as("app").await;
    let (su_pid, app_pid) = (pid(&su).await, pid(&app).await);
    let su_sleep = spawn_query(su, "SELECT pg_sleep(3600)");
    let app_sleep = spawn_query(app, "SELECT pg_sleep(3600)");
    let r = poll_until(&mut src, "both sleeping", |r| {
        [su_pid, app_pid]
            .iter()
            .all(|p| backend(r, *p).is_some_and(|b| b.state == "active"))
    })
    .await;
    let cancel = |p: i32| {
        pick(
            &offered(&r, "activity", &key(&r, p)),
            "postgres.cancel_query",
        )
    };
    // Reads as the superuser, acts as `ops` (pg_signal_backend) or `watcher` (nothing).
    let ops = console(
        Role::Oncall,
        vec![endpoint("db", &pg.url(), Some(&pg.url_as("ops")))],
    );
    let watcher = console(
        Role::Oncall,
        vec![endpoint("db", &pg.url(), Some(&pg.url_as("watcher")))],
    );

    let refused = run(&ops, &cancel(su_pid)).await;
    assert_eq!(refused.outcome, Outcome::Refused);
    assert!(
        refused
            .message
            .contains(&format!("pid {su_pid} is a superuser's session")),
        "{}",
        refused.message
    );
    let refused = run(&watcher, &cancel(app_pid)).await;
    assert_eq!(refused.outcome, Outcome::Refused);
    assert!(
        refused
            .message
            .contains("watcher needs that role or pg_signal_backend"),
        "{}",
        refused.message
    );
    assert!(!su_sleep.is_finished() && !app_sleep.is_finished());

    let done = run(&ops, &cancel(app_pid)).await;
    assert_eq!(done.outcome, Outcome::Ok, "{}", done.message);
    assert!(cancelled(&finished(app_sleep, "app's sleep").await.1));
    assert!(!su_sleep.is_finished(), "the superuser's sleep runs on");
    su_sleep.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_reaches_no_server_for_any_postgres_action_and_audits_each_refusal() {
    let pg = Postgres::start();
    let hole = support::BlackHole::start();
    let hole_url = format!("postgres://x@127.0.0.1:{}/x", hole.port());
    let mut src = source(&pg.url());
    let ch = chain(&pg, &mut src, true).await;
    let root = key(&ch.reading, ch.a);
    let mut tried = offered(&ch.reading, "blocking", &root);
    tried.extend(offered_on("postgres/hole", &ch.reading, "blocking", &root));
    let kinds_tried: BTreeSet<&str> = tried.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds_tried, KINDS.into_iter().collect());
    assert_eq!(tried.len(), KINDS.len() * 2);

    let shadow = console(
        Role::Shadow,
        vec![
            endpoint("db", &pg.url(), None),
            endpoint("hole", &hole_url, None),
        ],
    );
    for a in &tried {
        assert!(matches!(a.precondition, Some(Check::Sql { .. })));
        assert!(shadow.runtime.executor_for(a).is_none());
        for confirmation in [
            Confirmation::Confirmed,
            Confirmation::Typed(a.target.name.clone()),
        ] {
            let result = run_with(&shadow, a, confirmation).await;
            assert_eq!(result.outcome, Outcome::Refused, "{}", a.kind);
            assert!(
                result.message.contains("read-only: shadowing"),
                "{}",
                result.message
            );
        }
        assert!(!shadow.runtime.pipeline.preview(a, None).await.runnable);
    }
    assert_eq!(hole.accepted(), 0, "no connection to the black hole");
    let a_start = root.split(':').nth(1).unwrap_or("").to_string();
    assert_eq!(live_start(&pg, ch.a), a_start, "the root session lives");
    for (task, what) in [
        (ch.a_task.as_ref().expect("A's sleep"), "A"),
        (&ch.b_task, "B"),
        (&ch.c_task, "C"),
    ] {
        assert!(!task.is_finished(), "{what} was not signalled");
    }
    let (records, unreadable) = shadow.audit.read_since(None).expect("audit");
    assert_eq!(unreadable, 0);
    assert_eq!(records.len(), tried.len() * 2, "one refusal per attempt");
    assert!(
        records
            .iter()
            .all(|r| r.outcome == Some(Outcome::Refused) && r.role == "shadow")
    );
    for kind in KINDS {
        assert!(records.iter().any(|r| r.kind == kind), "{kind} audited");
    }
}
