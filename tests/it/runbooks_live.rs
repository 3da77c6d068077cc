//! Runbooks executed for real: shipped runbooks against a real PostgreSQL and a real Redis
//! started by the harness, and rolling steps whose health gate is a real HTTP server run by
//! the test. Every step goes through the guarded pipeline and lands in the audit log.
//!
//! The SSH-backed runbooks run against real sshd servers in `runbooks_ssh.rs`;
//! `ssh_plans_target_one_host_component_per_action` pins the shape of their plans.

use crate::support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use mastop::actions::audit::{Outcome, Phase};
use mastop::actions::{Operation, Role};
use mastop::config::{Config, EndpointConfig};
use mastop::runbooks::engine::execute_collecting;
use mastop::runbooks::library::shipped;
use mastop::runbooks::{Control, Event, Inventory, InventoryHost, Mode, RunEnd, Runbook, expand};
use support::console::Console;

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn shipped_runbook(name: &str) -> Runbook {
    shipped().get(name).cloned().expect("shipped")
}

/// What an operator at an on-call console types: the runbook's name.
async fn run(
    console: &Console,
    runbook: &Runbook,
    given: &BTreeMap<String, String>,
    inventory: &Inventory,
    mode: Mode,
) -> (mastop::runbooks::Summary, Vec<Event>) {
    let plan = expand(runbook, given, inventory, mode, false).expect("expands");
    execute_collecting(
        &plan,
        &console.runtime,
        Some(runbook.name.as_str()),
        &Control::new(),
    )
    .await
}

fn finished_messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ActionFinished { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_long_queries_cancels_only_the_queries_over_the_limit() {
    let pg = support::Postgres::start();
    let cfg = Config {
        postgres: vec![EndpointConfig::new("primary", pg.url())],
        ..Config::default()
    };
    let (client, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let sleeper = tokio::spawn(async move { client.simple_query("SELECT pg_sleep(300)").await });
    // Wait (by asking, not by sleeping a fixed time) until the query is over the limit.
    loop {
        let over = pg.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)' AND now() - query_start > interval '1 second'",
        );
        if over.trim() == "1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let console = Console::new(Role::Oncall, &cfg, None);
    let runbook = shipped_runbook("cancel-long-queries");
    let inventory = Inventory::from_config(&cfg);

    // Dry run: counts, cancels nothing.
    let (summary, events) = run(
        &console,
        &runbook,
        &values(&[("longer_than", "1s")]),
        &inventory,
        Mode::DryRun,
    )
    .await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    let messages = finished_messages(&events);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].ends_with("done (1)"), "{messages:?}");
    assert!(!sleeper.is_finished(), "a dry run cancels nothing");

    let (summary, events) = run(
        &console,
        &runbook,
        &values(&[("longer_than", "1s")]),
        &inventory,
        Mode::Run,
    )
    .await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    let messages = finished_messages(&events);
    assert!(
        messages[1].ends_with("done (1)"),
        "one query cancelled: {messages:?}"
    );
    let cancelled = sleeper
        .await
        .expect("task")
        .expect_err("the query was cancelled");
    assert_eq!(
        cancelled.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{cancelled}"
    );
    let (records, _) = console.audit.read_since(None).expect("audit");
    let ours: Vec<_> = records
        .iter()
        .filter(|r| r.runbook.as_ref().is_some_and(|m| m.run == summary.run))
        .collect();
    assert_eq!(ours.len(), 4, "intent and outcome of both steps: {ours:?}");
    assert!(ours.iter().all(|r| r.kind == "runbook.cancel-long-queries"));
    assert!(
        ours.iter()
            .any(|r| r.phase == Phase::Intent && r.operations[0].contains("pg_cancel_backend"))
    );
}

fn job(class: &str, queue: &str, jid: &str) -> String {
    format!(
        r#"{{"class":"{class}","args":["https://remote.example/inbox"],"queue":"{queue}","jid":"{jid}","retry":true,"retry_count":3}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_job_class_moves_only_that_class_and_clear_dead_set_empties_the_dead_set() {
    let redis = support::Redis::start();
    let cfg = Config {
        sidekiq: vec![EndpointConfig::new("main", redis.url())],
        ..Config::default()
    };
    let delivery = [
        job("ActivityPub::DeliveryWorker", "push", "a1"),
        job("ActivityPub::DeliveryWorker", "push", "a2"),
    ];
    let other = job("LinkCrawlWorker", "pull", "b1");
    redis.cli(&["ZADD", "retry", "100", &delivery[0]]);
    redis.cli(&["ZADD", "retry", "101", &other]);
    redis.cli(&["ZADD", "retry", "102", &delivery[1]]);
    redis.cli(&["ZADD", "dead", "1", &job("X", "default", "d1")]);
    redis.cli(&["ZADD", "dead", "2", &job("X", "default", "d2")]);
    let console = Console::new(Role::Oncall, &cfg, None);
    let inventory = Inventory::from_config(&cfg);

    let retry = shipped_runbook("retry-job-class");
    let given = values(&[("class", "ActivityPub::DeliveryWorker")]);
    let (summary, events) = run(&console, &retry, &given, &inventory, Mode::DryRun).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert!(finished_messages(&events)[0].ends_with("done (2)"));
    assert_eq!(
        redis.cli(&["ZCARD", "retry"]).trim(),
        "3",
        "dry run moved nothing"
    );

    let (summary, events) = run(&console, &retry, &given, &inventory, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert!(finished_messages(&events)[1].ends_with("done (2)"));
    assert_eq!(redis.cli(&["ZRANGE", "retry", "0", "-1"]).trim(), other);
    let pushed = redis.cli(&["LRANGE", "queue:push", "0", "-1"]);
    assert!(
        pushed.contains(r#""jid":"a1""#) && pushed.contains(r#""jid":"a2""#),
        "{pushed}"
    );
    assert_eq!(redis.cli(&["SISMEMBER", "queues", "push"]).trim(), "1");

    let clear = shipped_runbook("clear-dead-set");
    let (summary, _) = run(&console, &clear, &BTreeMap::new(), &inventory, Mode::DryRun).await;
    assert_eq!(summary.end, RunEnd::Completed);
    assert_eq!(
        redis.cli(&["ZCARD", "dead"]).trim(),
        "2",
        "dry run deleted nothing"
    );
    let (summary, events) = run(&console, &clear, &BTreeMap::new(), &inventory, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert_eq!(redis.cli(&["EXISTS", "dead"]).trim(), "0");
}

/// A tiny HTTP server: `GET /health/NAME` answers from `health` (a list of statuses per
/// host, the last one repeating), every other request 200; every request is recorded.
struct Web {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn web(health: HashMap<String, Vec<u16>>) -> Web {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let health = Arc::new(Mutex::new(health));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = log.clone();
            let health = health.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let line = text.lines().next().unwrap_or_default().to_string();
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                let status = match path.strip_prefix("/health/") {
                    Some(host) => {
                        let mut h = health.lock().expect("health");
                        let list = h.entry(host.to_string()).or_insert_with(|| vec![200]);
                        if list.len() > 1 {
                            list.remove(0)
                        } else {
                            list[0]
                        }
                    }
                    None => 200,
                };
                log.lock().expect("log").push(format!(
                    "{} {path} {status}",
                    line.split(' ').next().unwrap_or_default()
                ));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    Web { port, seen }
}

fn web_hosts(n: usize) -> Vec<InventoryHost> {
    (1..=n)
        .map(|i| InventoryHost {
            name: format!("web-{i}"),
            address: "127.0.0.1".into(),
            roles: vec!["mastodon-web".into()],
            tags: vec![],
        })
        .collect()
}

/// A rolling step whose per-host operation is a Redis write, gated on each host's /health:
/// the engine's gate logic on its own, without SSH in the way.
const ROLLING_REDIS: &str = r#"
name = "rolling-mark"
title = "Rolling mark"
risk = "high"
rollback = "Delete the marks."

[[param]]
name = "port"
type = "integer"
min = 1
max = 65535

[[step]]
title = "Mark reloaded"
on = "redis/main"
redis = ["SET", "reloaded:{host.name}", "1"]
hosts = { role = "mastodon-web" }
one_at_a_time = true

[step.gate]
http = "http://{host.address}:{port}/health/{host.name}"
timeout = "3s"
interval = "1s"
"#;

const ROLLING_HTTP: &str = r#"
name = "rolling-http"
title = "Rolling HTTP reload"
risk = "high"

[[param]]
name = "port"
type = "integer"
min = 1
max = 65535

[[step]]
title = "Reload"
http = "http://{host.address}:{port}/reload/{host.name}"
method = "POST"
hosts = { role = "mastodon-web" }
one_at_a_time = true

[step.gate]
http = "http://{host.address}:{port}/health/{host.name}"
timeout = "3s"
interval = "1s"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_health_gate_stops_a_rolling_reload_before_the_next_host() {
    let redis = support::Redis::start();
    let cfg = Config {
        redis: vec![EndpointConfig::new("main", redis.url())],
        ..Config::default()
    };
    let server = web(HashMap::from([("web-2".to_string(), vec![503])])).await;
    let console = Console::new(Role::Oncall, &cfg, None);
    let inventory = Inventory {
        hosts: web_hosts(3),
        components: vec!["redis/main".into()],
    };
    let runbook =
        mastop::runbooks::file::parse("rolling-mark.toml", ROLLING_REDIS).expect("parses");
    let port = server.port.to_string();
    let (summary, events) = run(
        &console,
        &runbook,
        &values(&[("port", &port)]),
        &inventory,
        Mode::Run,
    )
    .await;
    let RunEnd::Failed { step: 1, reason } = &summary.end else {
        panic!("the gate stops the run: {summary:?}");
    };
    assert!(
        reason.contains("health gate after Mark reloaded · redis/main for web-2"),
        "{reason}"
    );
    assert!(reason.contains("answered 503, expected 200"), "{reason}");
    assert!(reason.contains("web-3 not started"), "{reason}");
    assert_eq!(redis.cli(&["GET", "reloaded:web-1"]).trim(), "1");
    assert_eq!(redis.cli(&["GET", "reloaded:web-2"]).trim(), "1");
    assert_eq!(
        redis.cli(&["EXISTS", "reloaded:web-3"]).trim(),
        "0",
        "web-3 was never touched"
    );
    let tries = events
        .iter()
        .filter(|e| matches!(e, Event::Waiting { title, .. } if title.contains("answers 200")))
        .count();
    assert!(
        tries >= 2,
        "the gate kept asking until its timeout: {events:?}"
    );
    let seen = server.seen.lock().expect("seen").clone();
    assert_eq!(seen[0], "GET /health/web-1 200");
    assert!(
        seen[1..].iter().all(|s| s == "GET /health/web-2 503"),
        "{seen:?}"
    );
    let (records, _) = console.audit.read_since(None).expect("audit");
    let outcomes: Vec<_> = records
        .iter()
        .filter(|r| r.phase == Phase::Outcome)
        .map(|r| (r.title.clone(), r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "Mark reloaded · redis/main for web-1".to_string(),
                Some(Outcome::Ok)
            ),
            (
                "Mark reloaded · redis/main for web-2".to_string(),
                Some(Outcome::Ok)
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_that_recovers_lets_the_rolling_http_reload_reach_every_host() {
    let cfg = Config::default();
    // web-2 is slow to come back: two 503s, then healthy.
    let server = web(HashMap::from([("web-2".to_string(), vec![503, 503, 200])])).await;
    let console = Console::new(Role::Oncall, &cfg, None);
    let inventory = Inventory {
        hosts: web_hosts(3),
        components: vec![],
    };
    let runbook = mastop::runbooks::file::parse("rolling-http.toml", ROLLING_HTTP).expect("parses");
    let port = server.port.to_string();
    let (summary, events) = run(
        &console,
        &runbook,
        &values(&[("port", &port)]),
        &inventory,
        Mode::Run,
    )
    .await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert_eq!(summary.actions_ok, 3);
    let seen = server.seen.lock().expect("seen").clone();
    assert_eq!(
        seen,
        [
            "POST /reload/web-1 200",
            "GET /health/web-1 200",
            "POST /reload/web-2 200",
            "GET /health/web-2 503",
            "GET /health/web-2 503",
            "GET /health/web-2 200",
            "POST /reload/web-3 200",
            "GET /health/web-3 200",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_steps_ask_postgres_and_redis_until_the_answer_matches() {
    let pg = support::Postgres::start();
    let redis = support::Redis::start();
    let cfg = Config {
        postgres: vec![EndpointConfig::new("primary", pg.url())],
        redis: vec![EndpointConfig::new("main", redis.url())],
        ..Config::default()
    };
    redis.cli(&["SET", "mastop:flag", "up"]);
    let text = r#"
name = "waits"
title = "Waits"
risk = "low"

[[precondition]]
sql = "SELECT pg_is_in_recovery()"
on = "postgres/primary"
expect = "false"
timeout = "5s"

[[step]]
title = "flag is up"
wait = { redis = ["GET", "mastop:flag"], on = "redis/main", expect = "up", timeout = "5s" }

[[step]]
title = "flag is down"
wait = { redis = ["GET", "mastop:flag"], on = "redis/main", expect = "down", timeout = "2s", interval = "1s" }

[[step]]
title = "never reached"
on = "redis/main"
redis = ["SET", "mastop:after", "1"]
"#;
    let runbook = mastop::runbooks::file::parse("waits.toml", text).expect("parses");
    let console = Console::new(Role::Oncall, &cfg, None);
    let (summary, events) = run(
        &console,
        &runbook,
        &BTreeMap::new(),
        &Inventory::from_config(&cfg),
        Mode::Run,
    )
    .await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Precondition { ok: true, .. })),
        "{events:?}"
    );
    let RunEnd::Failed { step: 2, reason } = &summary.end else {
        panic!("{summary:?}");
    };
    assert!(reason.contains("did not hold within 2s"), "{reason}");
    assert!(reason.contains("expected down, found up"), "{reason}");
    assert_eq!(redis.cli(&["EXISTS", "mastop:after"]).trim(), "0");
}

#[test]
fn ssh_plans_target_one_host_component_per_action() {
    let inventory = Inventory {
        hosts: web_hosts(2),
        components: vec![],
    };
    let runbook = shipped_runbook("rolling-reload-web");
    let plan = expand(&runbook, &BTreeMap::new(), &inventory, Mode::Run, false).expect("expands");
    let actions: Vec<_> = plan.actions().collect();
    assert_eq!(actions.len(), 2);
    for (a, host) in actions.iter().zip(["web-1", "web-2"]) {
        assert_eq!(a.target.component, format!("host/{host}"));
        assert_eq!(
            a.operations,
            [Operation::Ssh {
                host: host.into(),
                argv: vec![
                    "sudo".into(),
                    "systemctl".into(),
                    "reload".into(),
                    "mastodon-web.service".into()
                ],
            }]
        );
    }
}
