//! The guarded pipeline in one console, against real PostgreSQL and Redis: shadow sends
//! nothing, on-call runs only what passed every guard, and every run is audited.

use crate::support;

use support::console::Console;

use std::time::Duration;

use mastop::actions::action::Check;
use mastop::actions::audit::{Outcome, Phase};
use mastop::actions::{Action, Confirmation, Operation, Risk, Role, Target};
use mastop::config::{Config, EndpointConfig};

fn endpoint(name: &str, url: String) -> EndpointConfig {
    EndpointConfig::new(name, url)
}

fn console(role: Role, cfg: &Config, audit_path: Option<&str>) -> Console {
    Console::new(role, cfg, audit_path)
}

async fn run(c: &Console, a: &Action, confirmation: Confirmation) -> mastop::actions::RunResult {
    support::console::run_with(c, a, confirmation).await
}

fn action(kind: &str, component: &str, risk: Risk, ops: Vec<Operation>) -> Action {
    Action {
        kind: kind.into(),
        title: format!("test {kind}"),
        target: Target {
            component: component.into(),
            object: "t".into(),
            name: "primary".into(),
            identity: None,
        },
        risk,
        operations: ops,
        precondition: None,
        cooldown: Duration::ZERO,
        deadline: Duration::from_secs(10),
    }
}

fn sql(text: &str) -> Operation {
    Operation::Sql {
        text: text.into(),
        params: vec![],
    }
}

fn redis_calls(redis: &support::Redis, command: &str) -> u64 {
    let stats = redis.cli(&["INFO", "commandstats"]);
    stats
        .lines()
        .find(|l| l.starts_with(&format!("cmdstat_{command}:")))
        .and_then(|l| l.split("calls=").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Every action kind mastop has, tried by a shadow console: nothing reaches any backend
/// (the endpoints are black holes that count connections, and real servers see no
/// mutation), and each refusal is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_sends_nothing_for_every_action_kind_and_each_refusal_is_audited() {
    let pg = support::Postgres::start();
    let redis = support::Redis::start();
    pg.psql("CREATE TABLE t (n int)");
    let pg_hole = support::BlackHole::start();
    let redis_hole = support::BlackHole::start();
    let cfg = Config {
        postgres: vec![
            endpoint("primary", pg.url()),
            endpoint(
                "hole",
                format!("postgres://x@127.0.0.1:{}/x", pg_hole.port()),
            ),
        ],
        redis: vec![
            endpoint("main", redis.url()),
            endpoint("hole", format!("redis://127.0.0.1:{}/0", redis_hole.port())),
        ],
        ..Config::default()
    };
    let shadow = console(Role::Shadow, &cfg, None);
    let mut tried = vec![
        action(
            "test.pg_insert",
            "postgres/primary",
            Risk::Low,
            vec![sql("INSERT INTO t VALUES (1)")],
        ),
        action(
            "test.pg_hole",
            "postgres/hole",
            Risk::Low,
            vec![sql("INSERT INTO t VALUES (1)")],
        ),
        action(
            "test.redis_set",
            "redis/main",
            Risk::High,
            vec![Operation::redis(vec!["SET".into(), "k".into(), "v".into()])],
        ),
        action(
            "test.redis_hole",
            "redis/hole",
            Risk::Low,
            vec![Operation::redis(vec!["SET".into(), "k".into(), "v".into()])],
        ),
    ];
    // and every kind the demo catalog offers
    let now = std::time::SystemTime::now();
    let demo = mastop::engine::poll::fleet_from(
        mastop::demo::readings_at(Duration::ZERO, now),
        now,
        Duration::from_secs(2),
        Default::default(),
    );
    for c in demo.components() {
        tried.extend(mastop::actions::catalog::for_component(c, None, true));
    }
    for kind in mastop::actions::catalog::DEMO_KINDS {
        assert!(
            tried.iter().any(|a| a.kind == *kind),
            "the demo fleet must offer {kind}"
        );
    }
    let sets_before = redis_calls(&redis, "set");
    for a in &tried {
        assert!(
            shadow.runtime.executor_for(a).is_none(),
            "a shadow console holds no executor"
        );
        for confirmation in [
            Confirmation::Confirmed,
            Confirmation::Typed(a.target.name.clone()),
        ] {
            let result = run(&shadow, a, confirmation).await;
            assert_eq!(result.outcome, Outcome::Refused, "{}", a.kind);
            assert!(
                result.message.contains("read-only: shadowing"),
                "{}",
                result.message
            );
        }
    }
    assert_eq!(pg_hole.accepted(), 0, "no connection to any postgres");
    assert_eq!(redis_hole.accepted(), 0, "no connection to any redis");
    assert_eq!(
        redis_calls(&redis, "set"),
        sets_before,
        "no SET reached redis"
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM t").trim(),
        "0",
        "no INSERT reached postgres"
    );
    let (records, unreadable) = shadow.audit.read_since(None).expect("audit readable");
    assert_eq!(unreadable, 0);
    assert_eq!(
        records.len(),
        tried.len() * 2,
        "one refusal record per attempt"
    );
    assert!(
        records
            .iter()
            .all(|r| r.outcome == Some(Outcome::Refused) && r.role == "shadow")
    );
    assert!(records.iter().all(|r| {
        r.guards
            .last()
            .is_some_and(|g| g.guard == "role" && !g.passed)
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oncall_runs_a_confirmed_action_with_intent_before_outcome() {
    let pg = support::Postgres::start();
    pg.psql("CREATE TABLE t (n int)");
    let cfg = Config {
        postgres: vec![endpoint("primary", pg.url())],
        ..Config::default()
    };
    let c = console(Role::Oncall, &cfg, None);
    let a = action(
        "test.pg_insert",
        "postgres/primary",
        Risk::Low,
        vec![sql("INSERT INTO t VALUES (42) RETURNING n")],
    );
    let unconfirmed = run(&c, &a, Confirmation::None).await;
    assert_eq!(unconfirmed.outcome, Outcome::Refused);
    assert_eq!(pg.psql("SELECT count(*) FROM t").trim(), "0");
    let result = run(&c, &a, Confirmation::Confirmed).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(result.message.contains("42"), "{}", result.message);
    assert_eq!(pg.psql("SELECT n FROM t").trim(), "42");
    let (records, _) = c.audit.read_since(None).expect("audit");
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.action_id == result.action_id)
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        (mine[0].phase, mine[1].phase),
        (Phase::Intent, Phase::Outcome)
    );
    assert_eq!(mine[1].outcome, Some(Outcome::Ok));
    assert_eq!(
        mine[0].operations,
        vec!["INSERT INTO t VALUES (42) RETURNING n".to_string()]
    );
    let guards: Vec<&str> = mine[1].guards.iter().map(|g| g.guard.as_str()).collect();
    assert_eq!(guards, ["role", "freeze", "confirm", "lock", "cooldown"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_confirmation_rejects_a_wrong_name() {
    let redis = support::Redis::start();
    let cfg = Config {
        redis: vec![endpoint("main", redis.url())],
        ..Config::default()
    };
    let c = console(Role::Oncall, &cfg, None);
    let a = action(
        "test.redis_set",
        "redis/main",
        Risk::High,
        vec![Operation::redis(vec!["SET".into(), "k".into(), "v".into()])],
    );
    let wrong = run(&c, &a, Confirmation::Typed("primray".into())).await;
    assert_eq!(wrong.outcome, Outcome::Refused);
    assert!(
        wrong.message.contains("needs the target's name `primary`"),
        "{}",
        wrong.message
    );
    let clicked = run(&c, &a, Confirmation::Confirmed).await;
    assert_eq!(
        clicked.outcome,
        Outcome::Refused,
        "high risk needs typing, not a click"
    );
    assert_eq!(redis.cli(&["EXISTS", "k"]).trim(), "0");
    let right = run(&c, &a, Confirmation::Typed("primary".into())).await;
    assert_eq!(right.outcome, Outcome::Ok, "{}", right.message);
    assert_eq!(redis.cli(&["GET", "k"]).trim(), "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_and_freeze_refuse() {
    let redis = support::Redis::start();
    let cfg = Config {
        redis: vec![endpoint("main", redis.url())],
        ..Config::default()
    };
    let c = console(Role::Oncall, &cfg, None);
    let mut a = action(
        "test.incr",
        "redis/main",
        Risk::Low,
        vec![Operation::redis(vec!["INCR".into(), "n".into()])],
    );
    a.cooldown = Duration::from_secs(3600);
    assert_eq!(
        run(&c, &a, Confirmation::Confirmed).await.outcome,
        Outcome::Ok
    );
    let again = run(&c, &a, Confirmation::Confirmed).await;
    assert_eq!(again.outcome, Outcome::Refused);
    assert!(again.message.contains("cooldown"), "{}", again.message);
    assert_eq!(redis.cli(&["GET", "n"]).trim(), "1");

    let mut b = a.clone();
    b.kind = "test.incr_other".into();
    b.cooldown = Duration::ZERO;
    c.runtime
        .set_freeze(Some("pg upgrade in progress".into()))
        .await
        .expect("on-call may freeze");
    let frozen = run(&c, &b, Confirmation::Confirmed).await;
    assert_eq!(frozen.outcome, Outcome::Refused);
    assert!(
        frozen.message.contains("pg upgrade in progress"),
        "{}",
        frozen.message
    );
    assert!(frozen.message.contains("frozen by"), "{}", frozen.message);
    assert_eq!(redis.cli(&["GET", "n"]).trim(), "1");
    c.runtime.set_freeze(None).await.expect("unfreeze");
    assert_eq!(
        run(&c, &b, Confirmation::Confirmed).await.outcome,
        Outcome::Ok
    );
    assert_eq!(redis.cli(&["GET", "n"]).trim(), "2");
    let shadow = console(Role::Shadow, &cfg, None);
    assert!(
        shadow.runtime.set_freeze(Some("x".into())).await.is_err(),
        "shadow cannot freeze"
    );
}

/// The precondition is asked at execution time, not when the action was chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_changed_since_selection_is_refused() {
    let pg = support::Postgres::start();
    pg.psql("CREATE TABLE t (n int)");
    let cfg = Config {
        postgres: vec![endpoint("primary", pg.url())],
        ..Config::default()
    };
    let c = console(Role::Oncall, &cfg, None);
    let mut a = action(
        "test.pg_delete",
        "postgres/primary",
        Risk::Low,
        vec![sql("DELETE FROM t")],
    );
    a.precondition = Some(Check::Sql {
        text: "SELECT count(*)::text FROM t".into(),
        params: vec![],
        expect: "0".into(),
    });
    let executor = c.runtime.executor_for(&a);
    let preview = c.runtime.pipeline.preview(&a, executor.as_deref()).await;
    assert!(preview.runnable, "{:?}", preview.decisions);
    pg.psql("INSERT INTO t VALUES (7)");
    let result = run(&c, &a, Confirmation::Confirmed).await;
    assert_eq!(result.outcome, Outcome::Refused);
    assert!(
        result.message.contains("expected 0, found 1"),
        "{}",
        result.message
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM t").trim(),
        "1",
        "nothing deleted"
    );
}

/// A full disk (here /dev/full) means the intent cannot be made durable: nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_that_cannot_be_written_stops_the_action() {
    let redis = support::Redis::start();
    let cfg = Config {
        redis: vec![endpoint("main", redis.url())],
        ..Config::default()
    };
    let c = console(Role::Oncall, &cfg, Some("/dev/full"));
    let a = action(
        "test.redis_set",
        "redis/main",
        Risk::Low,
        vec![Operation::redis(vec!["SET".into(), "k".into(), "v".into()])],
    );
    let result = run(&c, &a, Confirmation::Confirmed).await;
    assert_eq!(result.outcome, Outcome::Refused);
    assert!(
        result
            .message
            .contains("intent not recorded, nothing was run"),
        "{}",
        result.message
    );
    assert_eq!(redis.cli(&["EXISTS", "k"]).trim(), "0");
}

/// Revealing private content: on-call sees it after the reveal is recorded (who, what row,
/// never the content); shadow is refused and the attempt recorded; an audit that cannot be
/// written means nothing is revealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveals_are_for_oncall_only_and_audited_without_the_content() {
    let cfg = Config::default();
    let secret = "SELECT * FROM users WHERE email = 'alice@example.social'".to_string();
    let oncall = console(Role::Oncall, &cfg, None);
    let shown = oncall
        .runtime
        .reveal(
            "postgres/primary",
            "Activity",
            "4121:1795000000000000",
            Some(secret.clone()),
        )
        .await
        .expect("on-call may reveal");
    assert_eq!(shown, secret);
    let shadow = console(Role::Shadow, &cfg, None);
    let refused = shadow
        .runtime
        .reveal(
            "postgres/primary",
            "Activity",
            "4121:1795000000000000",
            Some(secret.clone()),
        )
        .await
        .expect_err("shadow may not");
    assert!(refused.contains("read-only: shadowing"), "{refused}");
    for (c, outcome) in [(&oncall, Outcome::Ok), (&shadow, Outcome::Refused)] {
        let (records, _) = c.audit.read_since(None).expect("audit");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].kind, "reveal");
        assert_eq!(records[0].outcome, Some(outcome));
        assert!(
            records[0].title.contains("4121:1795000000000000"),
            "{}",
            records[0].title
        );
        let raw = std::fs::read_to_string(c.audit.path()).expect("raw audit");
        assert!(
            !raw.contains("alice@example.social"),
            "the content never reaches the audit log: {raw}"
        );
    }
    let unrecordable = console(Role::Oncall, &cfg, Some("/dev/full"));
    let err = unrecordable
        .runtime
        .reveal("postgres/primary", "Activity", "4121:1", Some(secret))
        .await
        .expect_err("not recorded, not revealed");
    assert!(err.contains("not revealed"), "{err}");
}
