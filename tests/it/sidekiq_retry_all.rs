//! Retry-all as one flow against a real Redis: one confirmation, batches of at most 50 each
//! through the guarded pipeline, progress after each, an abort that stops after the
//! current batch, and no job lost or run twice when the flow is aborted or killed half way.
//! Sidekiq's own API (Debian's ruby-sidekiq) then sees the moved jobs in their queue.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use mastop::actions::audit::Outcome;
use mastop::actions::catalog::Selected;
use mastop::actions::kinds::retry_all::{self, Abort, FLOW_BATCH, Progress};
use mastop::actions::{Action, Confirmation, Role};
use mastop::config::{Config, EndpointConfig};
use mastop::model::Reading;
use mastop::sources::sidekiq::browse::{BrowseRequest, Browsed, SetName};
use mastop::sources::sidekiq::{SidekiqReading, SidekiqSource};
use mastop::sources::{Schedule, Source};
use support::Redis;
use support::console::Console;
use support::sidekiq::SidekiqPeer;

const COMPONENT: &str = "sidekiq/main";
const HANG_GUARD: Duration = Duration::from_secs(120);

fn endpoint(url: &str, namespace: Option<&str>) -> EndpointConfig {
    let ns = namespace.map_or_else(String::new, |n| format!("namespace = \"{n}\"\n"));
    toml::from_str(&format!("name = \"main\"\nurl = \"{url}\"\n{ns}")).expect("a [[sidekiq]] entry")
}

fn console(role: Role, redis: &Redis) -> Console {
    console_in(role, redis, None)
}

/// A console for a Sidekiq whose keys are under `namespace` (Mastodon ≤ 4.3).
fn console_in(role: Role, redis: &Redis, namespace: Option<&str>) -> Console {
    Console::new(
        role,
        &Config {
            sidekiq: vec![endpoint(&redis.url(), namespace)],
            ..Config::default()
        },
        None,
    )
}

fn jid(i: u64) -> String {
    format!("{i:024x}")
}

fn job(i: u64, class: &str) -> String {
    serde_json::json!({
        "retry": 3, "queue": "default", "class": class, "args": [format!("private {i}")],
        "jid": jid(i), "created_at": 1_795_000_000.5, "enqueued_at": 1_795_000_000.5,
        "error_message": "boom", "error_class": "ArgumentError",
        "failed_at": 1_795_000_001.5, "retry_count": 1
    })
    .to_string()
}

/// `n` jobs in `key` (job `i` at score 1e9 + i), plus two members no one can requeue.
async fn fill(redis: &Redis, key: &str, n: u64, class_of: impl Fn(u64) -> &'static str) {
    let mut c = redis.connection().await;
    let mut items: Vec<(f64, String)> = (0..n)
        .map(|i| ((1_000_000_000 + i) as f64, job(i, class_of(i))))
        .collect();
    items.push((1_000_000_010.5, "not json".into()));
    items.push((
        1_000_000_020.5,
        r#"{"class":"NoQueue","jid":"ffffffffffffffffffffffff"}"#.into(),
    ));
    for chunk in items.chunks(500) {
        let _: i64 = redis::cmd("ZADD")
            .arg(key)
            .arg(chunk)
            .query_async(&mut c)
            .await
            .expect("ZADD");
    }
}

async fn reading(redis: &Redis) -> SidekiqReading {
    reading_in(redis, None).await
}

async fn reading_in(redis: &Redis, namespace: Option<&str>) -> SidekiqReading {
    let mut source = SidekiqSource::new(
        &endpoint(&redis.url(), namespace),
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    );
    let r = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung")
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
    r.as_any()
        .downcast_ref::<SidekiqReading>()
        .expect("a SidekiqReading")
        .clone()
}

/// The retry-all the console offers for `object` (`retry set`, `dead set class X`).
fn offered(r: &SidekiqReading, selected: Option<Selected<'_>>, object: &str) -> Action {
    let actions = mastop::actions::kinds::offer(COMPONENT, "sidekiq", r, selected);
    actions
        .into_iter()
        .find(|a| a.kind == retry_all::KIND && a.target.object == object)
        .unwrap_or_else(|| {
            let all = mastop::actions::kinds::offer(COMPONENT, "sidekiq", r, selected);
            let titles: Vec<String> = all
                .iter()
                .map(|a| format!("{} [{}]", a.kind, a.target.object))
                .collect();
            panic!("no retry-all on {object}: {titles:?}")
        })
}

/// How many times each jid is in `queue:default` and in the set `key` (both under the
/// set's namespace, if it has one).
fn where_jobs_are(redis: &Redis, key: &str) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let count = |members: String| {
        let mut seen = BTreeMap::new();
        for line in members.lines().filter(|l| !l.is_empty()) {
            let jid = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["jid"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("unreadable:{line}"));
            *seen.entry(jid).or_default() += 1;
        }
        seen
    };
    (
        count(redis.cli(&[
            "LRANGE",
            &key.rsplit_once(':').map_or_else(
                || "queue:default".to_string(),
                |(ns, _)| format!("{ns}:queue:default"),
            ),
            "0",
            "-1",
        ])),
        count(redis.cli(&["ZRANGE", key, "0", "-1"])),
    )
}

/// Every job is in exactly one place, once: nothing lost, nothing duplicated.
fn assert_each_job_once(redis: &Redis, key: &str, n: u64) -> (usize, usize) {
    let (queued, in_set) = where_jobs_are(redis, key);
    for i in 0..n {
        let j = jid(i);
        let places = queued.get(&j).copied().unwrap_or(0) + in_set.get(&j).copied().unwrap_or(0);
        assert_eq!(places, 1, "job {i} is in {places} places");
    }
    assert!(queued.values().all(|&c| c == 1), "a job was pushed twice");
    (queued.len(), in_set.len())
}

async fn run_flow(
    c: &Console,
    action: &Action,
    typed: &str,
    abort: &Abort,
    mut each: impl FnMut(&Progress),
) -> mastop::actions::RunResult {
    tokio::time::timeout(
        HANG_GUARD,
        retry_all::run(
            &c.runtime,
            action,
            Confirmation::Typed(typed.into()),
            abort,
            |p| each(p),
        ),
    )
    .await
    .expect("the flow hung past the hang guard")
}

fn audited_batches(c: &Console) -> Vec<String> {
    let (records, _) = c.audit.read_since(None).expect("read the audit log");
    records
        .into_iter()
        .filter(|r| r.kind == "sidekiq.retry_batch" && r.outcome.is_some())
        .map(|r| format!("{:?} {}", r.outcome, r.result.unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_all_moves_every_job_once_in_guarded_batches_with_progress() {
    let redis = Redis::start();
    fill(&redis, "retry", 230, |_| "FlakyJob").await;
    let c = console(Role::Oncall, &redis);
    let action = offered(&reading(&redis).await, None, "retry set");
    assert_eq!(
        action.target.name, "retry",
        "confirmed by typing the set's name"
    );
    let shown: Vec<String> = action.operations.iter().map(|o| o.display()).collect();
    assert_eq!(shown[0], "ZRANGE retry 0 49 WITHSCORES");
    assert!(
        shown[1].starts_with("EVAL «-- each: if ZREM: LPUSH."),
        "{shown:?}"
    );

    redis.cli(&["CONFIG", "RESETSTAT"]);
    let mut lines = Vec::new();
    let result = run_flow(&c, &action, "retry", &Abort::new(), |p| {
        lines.push(p.line())
    })
    .await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(
        lines,
        vec![
            "moved 48 of 232; 2 left (unreadable)",
            "moved 98 of 232; 2 left (unreadable)",
            "moved 148 of 232; 2 left (unreadable)",
            "moved 198 of 232; 2 left (unreadable)",
            "moved 230 of 232; 2 left (unreadable)",
        ]
    );
    assert!(
        result.message.contains("done in 5 batches"),
        "{}",
        result.message
    );
    let stats = redis.cli(&["INFO", "commandstats"]);
    let (queued, left) = assert_each_job_once(&redis, "retry", 230);
    assert_eq!(
        (queued, left),
        (230, 2),
        "only the two unreadable members stay"
    );
    let batches = audited_batches(&c);
    assert_eq!(batches.len(), 5, "each batch audited: {batches:?}");
    assert!(
        batches[4].contains("enqueued 32, already gone 0"),
        "{batches:?}"
    );
    // Each batch: one bounded read (ZCARD + ZRANGE of 50), the re-check, one script.
    let calls = |cmd: &str| {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
            .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(calls("eval"), 5, "one script per batch");
    assert_eq!(calls("exists"), 5, "one re-check per batch");
    assert_eq!(
        calls("zrange"),
        6,
        "5 batch reads and the one that found the end"
    );
    assert_eq!(calls("zrem"), 230, "one ZREM per job, inside the scripts");

    // Sidekiq's own API sees them in the queue.
    let peer = SidekiqPeer::new(&redis);
    let seen = peer.ruby(
        "require 'sidekiq/api'; q = Sidekiq::Queue.new('default'); \
         puts [q.size, q.map(&:jid).uniq.size, Sidekiq::RetrySet.new.size].join(' ')",
    );
    assert_eq!(seen.trim(), "230 230 2");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abort_stops_after_the_current_batch_and_a_second_run_finishes_the_rest() {
    let redis = Redis::start();
    fill(&redis, "dead", 180, |_| "DoomedJob").await;
    let c = console(Role::Oncall, &redis);
    let action = offered(&reading(&redis).await, None, "dead set");
    let abort = Abort::new();
    let stopper = abort.clone();
    let result = run_flow(&c, &action, "dead", &abort, |p| {
        if p.batches == 2 {
            stopper.stop();
        }
    })
    .await;
    assert_eq!(result.outcome, Outcome::Aborted, "{}", result.message);
    assert!(
        result
            .message
            .contains("stopped by the operator after 2 batches"),
        "{}",
        result.message
    );
    let (queued, left) = assert_each_job_once(&redis, "dead", 180);
    assert_eq!((queued, left), (2 * FLOW_BATCH, 180 - 2 * FLOW_BATCH + 2));

    let result = run_flow(&c, &action, "dead", &Abort::new(), |_| {}).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    let (queued, left) = assert_each_job_once(&redis, "dead", 180);
    assert_eq!((queued, left), (180, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_killed_half_way_loses_and_duplicates_nothing() {
    let redis = Redis::start();
    fill(&redis, "retry", 400, |_| "FlakyJob").await;
    let c = std::sync::Arc::new(console(Role::Oncall, &redis));
    let action = offered(&reading(&redis).await, None, "retry set");
    for kill_after in [1u64, 3] {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut tx = Some(tx);
        let task = {
            let (c, action) = (std::sync::Arc::clone(&c), action.clone());
            tokio::spawn(async move {
                retry_all::run(
                    &c.runtime,
                    &action,
                    Confirmation::Typed("retry".into()),
                    &Abort::new(),
                    |p| {
                        if p.batches == kill_after
                            && let Some(tx) = tx.take()
                        {
                            let _ = tx.send(());
                        }
                    },
                )
                .await
            })
        };
        tokio::time::timeout(HANG_GUARD, rx)
            .await
            .expect("the flow never reached the batch")
            .expect("progress sent");
        // Dropped wherever it is: reading, re-checking, or waiting on a batch script.
        task.abort();
        let _ = task.await;
        assert_each_job_once(&redis, "retry", 400);
    }
    let result = run_flow(&c, &action, "retry", &Abort::new(), |_| {}).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    let (queued, left) = assert_each_job_once(&redis, "retry", 400);
    assert_eq!((queued, left), (400, 2));
}

/// A class far down the set, chosen on a page the operator browsed to: only its jobs
/// move, wherever they are in the set; keys under a namespace (Mastodon ≤ 4.3).
#[tokio::test(flavor = "multi_thread")]
async fn a_class_flow_moves_only_that_class_from_anywhere_in_the_set() {
    let redis = Redis::start();
    let mailer = |i: u64| {
        if i >= 600 && i.is_multiple_of(5) {
            "ActionMailer::MailDeliveryJob"
        } else {
            "ActivityPub::DeliveryWorker"
        }
    };
    fill(&redis, "mastodon:retry", 1200, mailer).await;
    let c = console_in(Role::Oncall, &redis, Some("mastodon"));
    let polled = reading_in(&redis, Some("mastodon")).await;
    let page = c
        .runtime
        .sidekiq
        .browse(
            COMPONENT,
            &BrowseRequest::Set {
                set: SetName::Retry,
                page: 12,
                from: 600,
                class: None,
            },
        )
        .await
        .expect("page 13");
    let shown = polled.with_browsed(&page);
    let Browsed::Set(p) = &page else {
        panic!("a set page")
    };
    let row = p
        .entries
        .iter()
        .find(|e| e.class == "ActionMailer::MailDeliveryJob")
        .expect("a Mailer job on page 13")
        .key();
    let table = shown
        .detail()
        .sections
        .iter()
        .map(|s| s.title.clone())
        .find(|t| t.starts_with("Retries"))
        .expect("retries table");
    let action = offered(
        &shown,
        Some(Selected {
            table: &table,
            key: &row,
        }),
        "retry set class ActionMailer::MailDeliveryJob",
    );
    let result = run_flow(&c, &action, "retry", &Abort::new(), |_| {}).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    let (queued, _) = assert_each_job_once(&redis, "mastodon:retry", 1200);
    assert_eq!(queued, 120);
    let (q, _) = where_jobs_are(&redis, "mastodon:retry");
    let expected: Vec<String> = (600..1200u64)
        .filter(|i| i.is_multiple_of(5))
        .map(jid)
        .collect();
    assert_eq!(q.keys().cloned().collect::<Vec<_>>(), {
        let mut e = expected.clone();
        e.sort();
        e
    });
    assert!(
        result
            .message
            .contains("moved 120 ActionMailer::MailDeliveryJob jobs"),
        "{}",
        result.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shadow_and_a_wrong_confirmation_move_nothing_and_are_audited() {
    let redis = Redis::start();
    fill(&redis, "retry", 60, |_| "FlakyJob").await;
    let r = reading(&redis).await;
    let action = offered(&r, None, "retry set");
    let shadow = console(Role::Shadow, &redis);
    let result = run_flow(&shadow, &action, "retry", &Abort::new(), |_| {}).await;
    assert_eq!(result.outcome, Outcome::Refused, "{}", result.message);
    let oncall = console(Role::Oncall, &redis);
    let result = run_flow(&oncall, &action, "dead", &Abort::new(), |_| {}).await;
    assert_eq!(result.outcome, Outcome::Refused, "{}", result.message);
    assert!(
        result.message.contains("typed `dead`"),
        "{}",
        result.message
    );
    let (queued, left) = assert_each_job_once(&redis, "retry", 60);
    assert_eq!((queued, left), (0, 62));
    for c in [&shadow, &oncall] {
        let batches = audited_batches(c);
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert!(batches[0].starts_with("Some(Refused)"), "{batches:?}");
    }
}

#[test]
fn the_cli_runs_the_flow_and_prints_progress() {
    let redis = Redis::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(fill(&redis, "dead", 120, |_| "DoomedJob"));
    let home = tempfile::tempdir().expect("temp HOME");
    let config = home.path().join("mastop.toml");
    std::fs::write(
        &config,
        format!(
            "role = \"oncall\"\n\n[[sidekiq]]\nname = \"main\"\nurl = \"{}\"\n",
            redis.url()
        ),
    )
    .expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .arg("--config")
        .arg(&config)
        .args([
            "action",
            "run",
            "sidekiq.retry_all",
            "--component",
            COMPONENT,
            "--object",
            "dead set",
            "--confirm",
            "dead",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("batch "))
            .collect::<Vec<_>>(),
        vec![
            "batch 1: moved 50 of 122",
            "batch 2: moved 99 of 122; 1 left (unreadable)",
            "batch 3: moved 120 of 122; 2 left (unreadable)",
        ],
        "{stderr}"
    );
    assert!(
        stdout.contains("done in 3 batches: moved 120 of 122"),
        "{stdout}"
    );
    assert_eq!(redis.cli(&["LLEN", "queue:default"]), "120");
}

/// In the console: the retry-all is chosen from the menu, confirmed once by typing the
/// set's name, runs as a flow whose progress shows in the dialog, and esc asks it to stop
/// after the current batch instead of closing the dialog.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_confirms_once_shows_progress_and_aborts_with_esc() {
    use crossterm::event::{KeyCode, KeyEvent};
    use mastop::tui::app::Effect;

    let redis = Redis::start();
    fill(&redis, "retry", 120, |_| "FlakyJob").await;
    let c = console(Role::Oncall, &redis);
    let mut app = support::sidekiq::console_app(reading(&redis).await);
    app.role = Role::Oncall;
    let key = |app: &mut mastop::tui::app::App, code: KeyCode| app.handle_key(KeyEvent::from(code));
    key(&mut app, KeyCode::Char('a'));
    let menu = app.menu.as_ref().expect("the action menu");
    let at = menu
        .items
        .iter()
        .position(|a| a.kind == retry_all::KIND && a.target.object == "retry set")
        .expect("retry-all offered");
    for _ in 0..at {
        key(&mut app, KeyCode::Down);
    }
    assert!(matches!(key(&mut app, KeyCode::Enter), Effect::Preview(_)));
    for ch in "retry".chars() {
        key(&mut app, KeyCode::Char(ch));
    }
    key(&mut app, KeyCode::Tab);
    let Effect::RunFlow(action, confirmation, abort) = key(&mut app, KeyCode::Enter) else {
        panic!("a retry-all runs as a flow");
    };
    assert_eq!(confirmation, Confirmation::Typed("retry".into()));

    // What the event loop does with it: progress lines back into the dialog.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stopper = abort.clone();
    let result = retry_all::run(&c.runtime, &action, confirmation, &abort, |p| {
        let _ = tx.send(p.line());
        if p.batches == 1 {
            // The operator presses esc while the first batch's result is coming in.
            stopper.stop();
        }
    })
    .await;
    while let Ok(line) = rx.try_recv() {
        app.flow_progress(&action, line);
    }
    let screen = support::sidekiq::render(&app, 120, 40);
    assert!(
        screen.contains("moved 48 of 122; 2 left (unreadable)"),
        "{screen}"
    );
    assert!(
        screen.contains("esc stops after the current batch"),
        "{screen}"
    );
    assert_eq!(result.outcome, Outcome::Aborted, "{}", result.message);

    // esc on a running flow stops it and keeps the dialog open.
    let running = Abort::new();
    if let Some(d) = app.dialog.as_mut() {
        d.abort = Some(running.clone());
    }
    assert_eq!(key(&mut app, KeyCode::Esc), Effect::None);
    assert!(running.stopped());
    let screen = support::sidekiq::render(&app, 120, 40);
    assert!(
        screen.contains("stopping after the current batch"),
        "{screen}"
    );
    app.action_done(&action, result);
    assert_eq!(redis.cli(&["LLEN", "queue:default"]), "48");
}
