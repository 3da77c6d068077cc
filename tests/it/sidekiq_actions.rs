//! Sidekiq actions through the real guarded pipeline, against a real Redis and, where the
//! answer is Sidekiq's to give, a real Sidekiq 6.4.1 (Debian's ruby-sidekiq): jobs move
//! exactly once, a job taken in between is never duplicated, quiet reaches the process,
//! shadow writes nothing.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use mastop::actions::action::Check;
use mastop::actions::audit::Outcome;
use mastop::actions::catalog::Selected;
use mastop::actions::{Action, Confirmation, Operation, Risk, Role};
use mastop::config::{Config, EndpointConfig};
use mastop::model::{Reading, SectionBody};
use mastop::sources::sidekiq::{SET_PAGE, SidekiqReading, SidekiqSource};
use mastop::sources::{Schedule, Source};
use support::Redis;
use support::console::{Console, run, run_with};
use support::sidekiq::SidekiqPeer;

const COMPONENT: &str = "sidekiq/main";
/// Hang guards only: a poll or an action takes milliseconds, Sidekiq boots in seconds and
/// beats every 5 s.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn console(role: Role, redis: &Redis, namespace: Option<&str>) -> Console {
    Console::new(
        role,
        &Config {
            sidekiq: vec![endpoint(&redis.url(), namespace)],
            ..Config::default()
        },
        None,
    )
}
const SIDEKIQ_GUARD: Duration = Duration::from_secs(90);

const KINDS: [&str; 9] = [
    "sidekiq.retry_job",
    "sidekiq.delete_job",
    "sidekiq.kill_job",
    "sidekiq.retry_batch",
    "sidekiq.retry_all",
    "sidekiq.clear_queue",
    "sidekiq.clear_set",
    "sidekiq.quiet_process",
    "sidekiq.stop_process",
];

fn endpoint(url: &str, namespace: Option<&str>) -> EndpointConfig {
    let ns = namespace.map_or_else(String::new, |n| format!("namespace = \"{n}\"\n"));
    toml::from_str(&format!("name = \"main\"\nurl = \"{url}\"\n{ns}"))
        .expect("a valid [[sidekiq]] entry")
}

/// A fresh source reads the extras (set pages, busy jobs) on its first poll.
async fn reading(redis: &Redis, namespace: Option<&str>) -> SidekiqReading {
    let mut source = SidekiqSource::new(
        &endpoint(&redis.url(), namespace),
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    );
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
    reading
        .as_any()
        .downcast_ref::<SidekiqReading>()
        .expect("the sidekiq source returns a SidekiqReading")
        .clone()
}

/// The title of the detail table starting with `prefix`, checking it has a row `key`: the
/// selection is made exactly as the console makes it.
fn table(r: &SidekiqReading, prefix: &str, key: &str) -> String {
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

fn offered(r: &SidekiqReading, prefix: &str, key: &str) -> Vec<Action> {
    let title = table(r, prefix, key);
    mastop::actions::kinds::offer(
        COMPONENT,
        "sidekiq",
        r,
        Some(Selected { table: &title, key }),
    )
}

fn component_actions(r: &SidekiqReading) -> Vec<Action> {
    mastop::actions::kinds::offer(COMPONENT, "sidekiq", r, None)
}

fn pick(actions: &[Action], kind: &str) -> Action {
    let found: Vec<&Action> = actions.iter().filter(|a| a.kind == kind).collect();
    match found.as_slice() {
        [one] => (*one).clone(),
        _ => panic!(
            "expected one {kind}, got {}: {:?}",
            found.len(),
            actions.iter().map(|a| &a.title).collect::<Vec<_>>()
        ),
    }
}

fn num(redis: &Redis, args: &[&str]) -> i64 {
    let out = redis.cli(args);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("redis-cli {args:?} gave {out:?}"))
}

fn jid(n: u64) -> String {
    format!("{n:024x}")
}

/// A retry-set member shaped exactly as Sidekiq 6.4.1 writes one (sidekiq.md §1), with an
/// argument and an error message that must never reach a title or the audit log.
fn failed_job(class: &str, jid: &str, queue: &str, extra: &str) -> String {
    format!(
        r#"{{"retry":3,"queue":"{queue}","backtrace":5,"class":"{class}","args":["private toot text",109876543210987654],"jid":"{jid}","created_at":1795678279.5153036,"enqueued_at":1795678279.5153086,"error_message":"private error text","error_class":"ArgumentError","failed_at":1795678279.5242548,"retry_count":0{extra}}}"#
    )
}

fn later(secs: f64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    format!("{:.3}", now + secs)
}

fn key_of(r: &SidekiqReading, set: &str, jid: &str) -> String {
    let page = match set {
        "retry" => &r.retry_set,
        "schedule" => &r.scheduled_set,
        _ => &r.dead_set,
    };
    page.as_ref()
        .and_then(|p| p.entries.iter().find(|e| e.jid == jid))
        .map(|e| e.key())
        .unwrap_or_else(|| panic!("{jid} is not on the {set} page"))
}

fn assert_no_private_text(a: &Action) {
    let shown = format!(
        "{} {} {}",
        a.title,
        a.target,
        a.operations
            .iter()
            .map(Operation::display)
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(
        !shown.contains("private toot") && !shown.contains("private error"),
        "job arguments or errors shown: {shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_now_hands_exactly_one_job_back_to_sidekiq() {
    let redis = Redis::start();
    let mut peer = SidekiqPeer::new(&redis);
    peer.ruby(r#"2.times { |i| FlakyJob.perform_async(i) }"#);
    peer.run(&["default"], 2);
    peer.wait_for("two failures in the retry set", SIDEKIQ_GUARD, || {
        num(&redis, &["ZCARD", "retry"]) == 2 && num(&redis, &["GET", "stat:failed"]) == 2
    });
    let r = reading(&redis, None).await;
    let page = r.retry_set.as_ref().expect("retry page");
    let chosen = page.entries[0].clone();
    let other = page.entries[1].clone();
    let actions = offered(&r, "Retries", &chosen.key());
    let retry = pick(&actions, "sidekiq.retry_job");
    assert_eq!(retry.risk, Risk::Low);
    assert!(
        retry.title.contains("FlakyJob") && retry.title.contains(&chosen.jid),
        "class and jid are in the title: {}",
        retry.title
    );
    assert_eq!(
        retry.target.object,
        format!("retry {}", chosen.key()),
        "the Web UI's own name for the entry"
    );

    let c = console(Role::Oncall, &redis, None);
    let result = run(&c, &retry).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.message.contains("enqueued 1 job to queue:default"),
        "{}",
        result.message
    );

    // Sidekiq fetches it, runs it, and it fails into the retry set once more: one more
    // failure, never two, and its count shows the manual retry was not counted (0 - 1 + 1).
    peer.wait_for("the retried job failing again", SIDEKIQ_GUARD, || {
        num(&redis, &["GET", "stat:failed"]) == 3 && num(&redis, &["ZCARD", "retry"]) == 2
    });
    let seen = peer.ruby(
        r#"require "sidekiq/api"
        Sidekiq::RetrySet.new.each { |e| puts [e.jid, e["retry_count"], e["retried_at"] ? "again" : "once"].join(" ") }"#,
    );
    let mut lines: Vec<&str> = seen.lines().collect();
    lines.sort();
    let mut want = vec![
        format!("{} 0 again", chosen.jid),
        format!("{} 0 once", other.jid),
    ];
    want.sort();
    assert_eq!(lines, want, "Sidekiq's RetrySet");
    assert_eq!(num(&redis, &["LLEN", "queue:default"]), 0);
    assert_eq!(num(&redis, &["GET", "stat:failed"]), 3, "ran exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_taken_before_the_run_is_refused_and_one_taken_during_it_is_already_gone() {
    let redis = Redis::start();
    let (a, b) = (jid(1), jid(2));
    let digest = "uniquejobs:00112233445566778899aabbccddeeff";
    let lock = format!(r#","lock":"until_executed","lock_digest":"{digest}""#);
    let member_a = failed_job("FlakyJob", &a, "default", &lock);
    let score = later(3600.0);
    redis.cli(&["ZADD", "retry", &score, &member_a]);
    redis.cli(&[
        "ZADD",
        "retry",
        &score,
        &failed_job("FlakyJob", &b, "default", ""),
    ]);
    redis.cli(&["SET", digest, "held"]);
    redis.cli(&["ZADD", "uniquejobs:digests", "1", digest]);
    let r = reading(&redis, None).await;
    let actions = offered(&r, "Retries", &key_of(&r, "retry", &a));
    let c = console(Role::Oncall, &redis, None);

    // Taken (by Sidekiq's poller, say) between selection and the run.
    redis.cli(&["ZREM", "retry", &member_a]);
    for kind in [
        "sidekiq.retry_job",
        "sidekiq.delete_job",
        "sidekiq.kill_job",
    ] {
        let action = pick(&actions, kind);
        let result = run(&c, &action).await;
        assert_eq!(
            result.outcome,
            Outcome::Refused,
            "{kind}: {}",
            result.message
        );
        assert!(
            result.message.starts_with("refused by precondition")
                && result.message.contains("found gone"),
            "{kind}: {}",
            result.message
        );
    }

    // Taken after the re-check passed: the script itself finds it gone and changes nothing.
    redis.cli(&["ZADD", "retry", &score, &member_a]);
    let mut raced = Vec::new();
    for kind in [
        "sidekiq.retry_job",
        "sidekiq.delete_job",
        "sidekiq.kill_job",
    ] {
        let mut action = pick(&actions, kind);
        assert!(matches!(action.precondition, Some(Check::Redis { .. })));
        action.precondition = None;
        redis.cli(&["ZREM", "retry", &member_a]);
        let result = run(&c, &action).await;
        assert_eq!(result.outcome, Outcome::Ok, "{kind}: {}", result.message);
        assert!(
            result.message.contains("already gone: nothing changed"),
            "{kind}: {}",
            result.message
        );
        raced.push(result.message);
        redis.cli(&["ZADD", "retry", &score, &member_a]);
    }
    redis.cli(&["ZREM", "retry", &member_a]);
    assert_eq!(num(&redis, &["ZCARD", "retry"]), 1, "only b is left");
    assert_eq!(
        num(&redis, &["EXISTS", "queue:default"]),
        0,
        "nothing pushed"
    );
    assert_eq!(num(&redis, &["EXISTS", "queues"]), 0);
    assert_eq!(num(&redis, &["EXISTS", "dead"]), 0, "nothing killed");
    assert_eq!(
        num(&redis, &["EXISTS", digest]),
        1,
        "the lock of a job someone else took is theirs"
    );
    assert_eq!(num(&redis, &["ZCARD", "uniquejobs:digests"]), 1);

    // A batch chosen while both were there moves only the one still there.
    let batch = pick(
        &component_actions(&r)
            .into_iter()
            .filter(|x| x.target.object == "retry set")
            .collect::<Vec<_>>(),
        "sidekiq.retry_batch",
    );
    let result = run(&c, &batch).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.message.contains("enqueued 1, already gone 1"),
        "{}",
        result.message
    );
    assert_eq!(queued_jids(&redis, "default"), [b]);
    assert_eq!(num(&redis, &["EXISTS", "retry"]), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_exactly_one_member_beside_a_same_score_neighbour() {
    let redis = Redis::start();
    let score = later(7200.0);
    let (a, b) = (jid(10), jid(11));
    for set in ["retry", "schedule", "dead"] {
        for j in [&a, &b] {
            redis.cli(&[
                "ZADD",
                set,
                &score,
                &failed_job("FlakyJob", j, "default", ""),
            ]);
        }
    }
    let c = console(Role::Oncall, &redis, None);
    for (set, table) in [
        ("retry", "Retries"),
        ("schedule", "Scheduled"),
        ("dead", "Dead"),
    ] {
        let r = reading(&redis, None).await;
        let delete = pick(
            &offered(&r, table, &key_of(&r, set, &a)),
            "sidekiq.delete_job",
        );
        assert_no_private_text(&delete);
        assert_eq!(delete.risk, Risk::Low);
        let result = run(&c, &delete).await;
        assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
        assert!(
            result.message.contains("deleted 1 job"),
            "{}",
            result.message
        );
        let left = redis.cli(&["ZRANGE", set, "0", "-1"]);
        assert_eq!(left.lines().count(), 1, "{set}: {left}");
        assert!(left.contains(&b) && !left.contains(&a), "{set}: {left}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_moves_a_retry_to_dead_and_trims_the_dead_set_as_sidekiq_does() {
    let redis = Redis::start();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // 10,000 recent deaths and one from 181 days ago: after the kill Sidekiq keeps 9,999.
    redis.cli(&[
        "EVAL",
        "for i = 1, 10000 do redis.call('ZADD', KEYS[1], ARGV[1] + i, 'filler' .. i) end",
        "1",
        "dead",
        &(now - 20_000).to_string(),
    ]);
    redis.cli(&["ZADD", "dead", &(now - 181 * 86_400).to_string(), "ancient"]);
    let victim = jid(20);
    let member = failed_job("FlakyJob", &victim, "default", "");
    redis.cli(&["ZADD", "retry", &later(3600.0), &member]);

    let r = reading(&redis, None).await;
    let kill = pick(
        &offered(&r, "Retries", &key_of(&r, "retry", &victim)),
        "sidekiq.kill_job",
    );
    assert_no_private_text(&kill);
    let c = console(Role::Oncall, &redis, None);
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let result = run(&c, &kill).await;
    let after = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.message.contains("moved 1 job to the dead set"),
        "{}",
        result.message
    );

    assert_eq!(num(&redis, &["ZCARD", "retry"]), 0);
    assert_eq!(num(&redis, &["ZCARD", "dead"]), 9_999);
    let cutoff = (now - 180 * 86_400).to_string();
    assert_eq!(
        num(&redis, &["ZCOUNT", "dead", "-inf", &cutoff]),
        0,
        "deaths older than 180 days are trimmed"
    );
    let score: f64 = redis
        .cli(&["ZSCORE", "dead", &member])
        .parse()
        .expect("the exact member is in the dead set");
    assert!(
        score >= before - 1.0 && score <= after + 1.0,
        "scored with the time of death: {score} not in [{before}, {after}]"
    );
    assert_eq!(
        num(&redis, &["ZRANK", "dead", &member]),
        9_998,
        "the newest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_queue_needs_its_exact_name_and_removes_the_list_and_its_queues_entry() {
    let redis = Redis::start();
    let peer = SidekiqPeer::new(&redis);
    peer.ruby(
        r#"5.times { |i| Sidekiq::Client.push("class" => "FastJob", "args" => [i], "queue" => "pull") }
        2.times { |i| FastJob.perform_async(i) }"#,
    );
    let r = reading(&redis, None).await;
    let clear = pick(&offered(&r, "Queues", "pull"), "sidekiq.clear_queue");
    assert_eq!(clear.risk, Risk::High);
    assert_eq!(
        (clear.target.object.as_str(), clear.target.name.as_str()),
        ("queue pull", "pull")
    );
    assert_eq!(
        clear
            .operations
            .iter()
            .map(Operation::display)
            .collect::<Vec<_>>(),
        ["MULTI", "UNLINK queue:pull", "SREM queues pull", "EXEC"]
    );
    let c = console(Role::Oncall, &redis, None);
    for wrong in ["default", "Pull", "pull ", ""] {
        let result = run_with(&c, &clear, Confirmation::Typed(wrong.into())).await;
        assert_eq!(result.outcome, Outcome::Refused, "typed {wrong:?}");
        assert!(
            result.message.starts_with("refused by confirm"),
            "{}",
            result.message
        );
    }
    let result = run_with(&c, &clear, Confirmation::Confirmed).await;
    assert_eq!(
        result.outcome,
        Outcome::Refused,
        "high risk needs the name typed"
    );
    assert_eq!(num(&redis, &["LLEN", "queue:pull"]), 5, "nothing ran yet");

    let result = run(&c, &clear).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(num(&redis, &["EXISTS", "queue:pull"]), 0);
    assert_eq!(num(&redis, &["SISMEMBER", "queues", "pull"]), 0);
    assert_eq!(
        num(&redis, &["LLEN", "queue:default"]),
        2,
        "other queues untouched"
    );
    let sizes = peer.ruby(
        r##"require "sidekiq/api"
        puts Sidekiq::Queue.all.map { |q| "#{q.name}=#{q.size}" }.sort.join(",")"##,
    );
    assert_eq!(sizes.trim(), "default=2", "Sidekiq's own queue list");

    // Cleared since it was chosen: the queue is no longer in `queues`, so it is refused.
    let result = run(&c, &clear).await;
    assert_eq!(result.outcome, Outcome::Refused, "{}", result.message);
    assert!(
        result.message.starts_with("refused by precondition"),
        "{}",
        result.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_the_retry_and_dead_sets_unlinks_them_only_with_their_names() {
    let redis = Redis::start();
    for n in 0..3u32 {
        redis.cli(&[
            "ZADD",
            "retry",
            &later(3600.0 + f64::from(n)),
            &failed_job("FlakyJob", &jid(100 + u64::from(n)), "default", ""),
        ]);
    }
    redis.cli(&[
        "ZADD",
        "dead",
        &later(-60.0),
        &failed_job("DoomedJob", &jid(200), "default", ""),
    ]);
    redis.cli(&[
        "ZADD",
        "schedule",
        &later(600.0),
        &failed_job("FastJob", &jid(300), "default", ""),
    ]);
    let r = reading(&redis, None).await;
    let actions = component_actions(&r);
    let clears: BTreeMap<String, &Action> = actions
        .iter()
        .filter(|a| a.kind == "sidekiq.clear_set")
        .map(|a| (a.target.name.clone(), a))
        .collect();
    assert_eq!(
        clears.keys().map(String::as_str).collect::<Vec<_>>(),
        ["dead", "retry"],
        "the scheduled set is not offered for clearing"
    );
    let c = console(Role::Oncall, &redis, None);
    for (name, action) in &clears {
        assert_eq!(action.risk, Risk::High);
        assert_eq!(
            action
                .operations
                .iter()
                .map(Operation::display)
                .collect::<Vec<_>>(),
            [format!("UNLINK {name}")]
        );
        let other = if name == "retry" { "dead" } else { "retry" };
        let refused = run_with(&c, action, Confirmation::Typed(other.into())).await;
        assert_eq!(refused.outcome, Outcome::Refused);
        assert_eq!(num(&redis, &["EXISTS", name]), 1);
        let result = run(&c, action).await;
        assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
        assert_eq!(num(&redis, &["EXISTS", name]), 0);
    }
    assert_eq!(num(&redis, &["ZCARD", "schedule"]), 1);
}

/// A process hash as Sidekiq 6.4.1 writes it, for tests that need a process without
/// running one.
fn fake_process(redis: &Redis, prefix: &str, host: &str, pid: u32, quiet: bool) -> String {
    let id = format!("{host}:{pid}:0123456789ab");
    let info = format!(
        r#"{{"hostname":"{host}","started_at":1795678279.5,"pid":{pid},"tag":"t","concurrency":5,"queues":["default"],"labels":[],"identity":"{id}"}}"#
    );
    redis.cli(&["SADD", &format!("{prefix}processes"), &id]);
    redis.cli(&[
        "HSET",
        &format!("{prefix}{id}"),
        "info",
        &info,
        "busy",
        "0",
        "beat",
        &later(0.0),
        "quiet",
        if quiet { "true" } else { "false" },
        "rss",
        "1000",
        "rtt_us",
        "50",
    ]);
    id
}

/// Every action the component offers, with every row of every table selected in turn.
fn everything_offered(r: &SidekiqReading) -> Vec<Action> {
    let mut all = component_actions(r);
    for section in r.detail().sections {
        let SectionBody::Table(t) = &section.body else {
            continue;
        };
        for row in &t.rows {
            if let Some(key) = &row.key {
                all.extend(mastop::actions::kinds::offer(
                    COMPONENT,
                    "sidekiq",
                    r,
                    Some(Selected {
                        table: &section.title,
                        key,
                    }),
                ));
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_and_stop_reach_the_real_sidekiq_process() {
    let redis = Redis::start();
    let mut peer = SidekiqPeer::new(&redis);
    peer.run(&["default"], 2);
    peer.wait_for("the process to beat", SIDEKIQ_GUARD, || {
        redis
            .cli(&["SMEMBERS", "processes"])
            .lines()
            .next()
            .is_some_and(|id| redis.cli(&["HGET", id.trim(), "quiet"]) == "false")
    });
    let r = reading(&redis, None).await;
    let p = r.process_list[0].clone();
    let actions = offered(&r, "Processes", &p.identity);
    let quiet = pick(&actions, "sidekiq.quiet_process");
    assert_eq!(
        quiet.risk,
        Risk::High,
        "the only active process: quieting it stops everything"
    );
    assert!(
        quiet
            .title
            .contains("retries and scheduled jobs stop being enqueued"),
        "{}",
        quiet.title
    );
    assert_eq!(quiet.target.name, p.hostname);
    assert_eq!(
        quiet
            .operations
            .iter()
            .map(Operation::display)
            .collect::<Vec<_>>(),
        [
            "MULTI".to_string(),
            format!("LPUSH {}-signals TSTP", p.identity),
            format!("EXPIRE {}-signals 60", p.identity),
            "EXEC".to_string(),
        ]
    );
    let c = console(Role::Oncall, &redis, None);
    let result = run(&c, &quiet).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    peer.wait_for("quiet=true in the heartbeat", SIDEKIQ_GUARD, || {
        redis.cli(&["HGET", &p.identity, "quiet"]) == "true"
    });
    let api = peer.api_stats();
    assert_eq!(
        api["process_set"][0]["quiet"].as_str(),
        Some("true"),
        "Sidekiq's ProcessSet: {api:#}"
    );

    let r = reading(&redis, None).await;
    let actions = offered(&r, "Processes", &p.identity);
    assert!(
        actions.iter().all(|a| a.kind != "sidekiq.quiet_process"),
        "a quiet process is not offered quiet again"
    );
    let stop = pick(&actions, "sidekiq.stop_process");
    assert_eq!(stop.risk, Risk::High);
    assert!(stop.title.contains("Restart=always"), "{}", stop.title);
    let result = run(&c, &stop).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    let deadline = Instant::now() + SIDEKIQ_GUARD;
    while num(&redis, &["SISMEMBER", "processes", &p.identity]) == 1 {
        assert!(
            Instant::now() < deadline,
            "TERM never stopped Sidekiq; log:\n{}",
            peer.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_mastop_can_send_is_tstp_or_term() {
    let redis = Redis::start();
    let a = fake_process(&redis, "", "web-1", 101, false);
    let b = fake_process(&redis, "", "web-2", 102, false);
    let q = fake_process(&redis, "", "web-3", 103, true);
    let r = reading(&redis, None).await;
    let all = everything_offered(&r);
    let mut signals: BTreeMap<(String, String), usize> = BTreeMap::new();
    for action in &all {
        for op in &action.operations {
            let Operation::Redis { argv, .. } = op else {
                panic!("{} runs a non-Redis operation", action.kind);
            };
            if argv.iter().any(|x| x.ends_with("-signals")) {
                assert_eq!(argv.len(), 3, "{argv:?}");
                if argv[0] == "LPUSH" {
                    *signals
                        .entry((argv[1].clone(), argv[2].clone()))
                        .or_default() += 1;
                } else {
                    assert_eq!(argv[0], "EXPIRE", "{argv:?}");
                }
            }
        }
    }
    let sig = |id: &str, s: &str| (format!("{id}-signals"), s.to_string());
    let want: BTreeMap<(String, String), usize> = [
        (sig(&a, "TSTP"), 1),
        (sig(&a, "TERM"), 1),
        (sig(&b, "TSTP"), 1),
        (sig(&b, "TERM"), 1),
        (sig(&q, "TERM"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(signals, want);
    // With another active process, quieting one is low risk.
    let quiet_a = all
        .iter()
        .find(|x| x.kind == "sidekiq.quiet_process" && x.target.identity.as_deref() == Some(&a))
        .expect("quiet web-1");
    assert_eq!(quiet_a.risk, Risk::Low);
    assert!(
        quiet_a.title.contains("with every process quiet"),
        "{}",
        quiet_a.title
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_jobs_locks_go_with_a_deleted_or_killed_job_and_no_other() {
    let redis = Redis::start();
    let digest = |n: u8| format!("uniquejobs:{}", format!("{n:02x}").repeat(16));
    let suffixes = ["", ":QUEUED", ":PRIMED", ":LOCKED", ":INFO"];
    for n in [1u8, 2, 3] {
        let d = digest(n);
        for s in suffixes {
            redis.cli(&["SET", &format!("{d}{s}"), "x"]);
        }
        redis.cli(&["ZADD", "uniquejobs:digests", "1", &d]);
    }
    let locked = |n: u8| format!(r#","lock":"until_executed","lock_digest":"{}""#, digest(n));
    let (deleted, killed, retried) = (jid(31), jid(32), jid(33));
    redis.cli(&[
        "ZADD",
        "retry",
        &later(3600.0),
        &failed_job("FlakyJob", &deleted, "default", &locked(1)),
    ]);
    redis.cli(&[
        "ZADD",
        "retry",
        &later(3601.0),
        &failed_job("FlakyJob", &killed, "default", &locked(2)),
    ]);
    redis.cli(&[
        "ZADD",
        "retry",
        &later(3602.0),
        &failed_job("FlakyJob", &retried, "default", &locked(3)),
    ]);
    let c = console(Role::Oncall, &redis, None);

    for (kind, j) in [
        ("sidekiq.delete_job", &deleted),
        ("sidekiq.kill_job", &killed),
        ("sidekiq.retry_job", &retried),
    ] {
        let r = reading(&redis, None).await;
        let action = pick(&offered(&r, "Retries", &key_of(&r, "retry", j)), kind);
        if kind != "sidekiq.retry_job" {
            assert!(
                action.title.contains("unique-jobs lock"),
                "{}",
                action.title
            );
        }
        let result = run(&c, &action).await;
        assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    }
    let exists = |n: u8| -> Vec<i64> {
        suffixes
            .iter()
            .map(|s| num(&redis, &["EXISTS", &format!("{}{s}", digest(n))]))
            .collect()
    };
    assert_eq!(exists(1), [0, 0, 0, 0, 0], "deleted job's lock");
    assert_eq!(
        exists(2),
        [0, 0, 0, 0, 0],
        "killed job's lock, as the death handler"
    );
    assert_eq!(
        exists(3),
        [1, 1, 1, 1, 1],
        "a retried job still holds its lock"
    );
    assert_eq!(
        redis.cli(&["ZRANGE", "uniquejobs:digests", "0", "-1"]),
        digest(3)
    );
    assert_eq!(num(&redis, &["ZCARD", "retry"]), 0);
    assert_eq!(num(&redis, &["ZCARD", "dead"]), 1);
    assert_eq!(num(&redis, &["LLEN", "queue:default"]), 1);
}

/// Runs batches of `object` until none is offered; returns how many jobs each run moved.
/// A class batch is offered on a row of that class, so such a row is selected.
async fn drain(redis: &Redis, c: &Console, object: &str, limit: usize) -> Vec<i64> {
    let mut moved = Vec::new();
    loop {
        let r = reading(redis, None).await;
        let Some(batch) = component_actions(&r)
            .into_iter()
            .chain(
                r.retry_set
                    .as_ref()
                    .and_then(|p| p.entries.iter().find(|e| object.ends_with(&e.class)))
                    .map(|e| offered(&r, "Retries", &e.key()))
                    .unwrap_or_default(),
            )
            .find(|a| a.kind == "sidekiq.retry_batch" && a.target.object == object)
        else {
            return moved;
        };
        assert_eq!(batch.risk, Risk::High);
        assert_eq!(batch.target.name, "retry");
        assert_no_private_text(&batch);
        let before = num(redis, &["ZCARD", "retry"]);
        let result = run(c, &batch).await;
        assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
        let n = before - num(redis, &["ZCARD", "retry"]);
        assert!(
            result
                .message
                .contains(&format!("enqueued {n}, already gone 0")),
            "{}",
            result.message
        );
        moved.push(n);
        assert!(moved.len() <= limit, "more batches than jobs: {moved:?}");
    }
}

fn queued_jids(redis: &Redis, queue: &str) -> Vec<String> {
    redis
        .cli(&["LRANGE", &format!("queue:{queue}"), "0", "-1"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("queued job JSON");
            assert_eq!(v["retry_count"], -1, "a manual retry is not counted");
            v["jid"].as_str().expect("jid").to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_retry_of_n_jobs_takes_ceil_n_over_batch_runs_and_stops_when_not_continued() {
    let redis = Redis::start();
    const N: u64 = 120;
    let batch = usize::try_from(SET_PAGE).expect("page size").min(100) as i64;
    for n in 0..N {
        let queue = if n % 2 == 0 { "default" } else { "push" };
        redis.cli(&[
            "ZADD",
            "retry",
            &later(3600.0 + n as f64),
            &failed_job("FlakyJob", &jid(1000 + n), queue, ""),
        ]);
    }
    let c = console(Role::Oncall, &redis, None);

    // One batch, then the operator stops: nothing else moves.
    let r = reading(&redis, None).await;
    let first = pick(
        &component_actions(&r)
            .into_iter()
            .filter(|a| a.target.object == "retry set")
            .collect::<Vec<_>>(),
        "sidekiq.retry_batch",
    );
    assert!(
        first.title.contains("run again for the next"),
        "{}",
        first.title
    );
    let result = run(&c, &first).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    let left = N as i64 - batch;
    assert_eq!(num(&redis, &["ZCARD", "retry"]), left);
    let _ = reading(&redis, None).await;
    assert_eq!(
        num(&redis, &["ZCARD", "retry"]),
        left,
        "no batch runs unless run"
    );
    assert_eq!(
        num(&redis, &["LLEN", "queue:default"]) + num(&redis, &["LLEN", "queue:push"]),
        batch
    );

    // Continuing drains the rest, a page per run.
    let rest = drain(&redis, &c, "retry set", N as usize).await;
    let mut runs = vec![batch];
    runs.extend(rest);
    let expected: Vec<i64> = (0..N.div_ceil(batch as u64))
        .map(|i| batch.min(N as i64 - i as i64 * batch))
        .collect();
    assert_eq!(runs, expected, "ceil({N}/{batch}) runs");
    assert_eq!(num(&redis, &["EXISTS", "retry"]), 0);
    let mut jids = queued_jids(&redis, "default");
    jids.extend(queued_jids(&redis, "push"));
    let unique: BTreeSet<&String> = jids.iter().collect();
    assert_eq!(
        (jids.len(), unique.len()),
        (N as usize, N as usize),
        "each job exactly once"
    );
    assert_eq!(
        redis
            .cli(&["SMEMBERS", "queues"])
            .lines()
            .collect::<BTreeSet<_>>(),
        ["default", "push"].into_iter().collect()
    );
    let (records, _) = c.audit.read_since(None).expect("audit");
    let batches = records
        .iter()
        .filter(|r| r.kind == "sidekiq.retry_batch" && r.outcome == Some(Outcome::Ok))
        .count();
    assert_eq!(
        batches,
        expected.len(),
        "every batch is its own audited action"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_batch_moves_only_that_class() {
    let redis = Redis::start();
    for n in 0..30u64 {
        let class = if n % 3 == 0 { "OtherJob" } else { "FlakyJob" };
        redis.cli(&[
            "ZADD",
            "retry",
            &later(3600.0 + n as f64),
            &failed_job(class, &jid(2000 + n), "default", ""),
        ]);
    }
    let c = console(Role::Oncall, &redis, None);
    let moved = drain(&redis, &c, "retry set class FlakyJob", 30).await;
    assert_eq!(moved, [20], "one run: all 20 on the page");
    assert_eq!(num(&redis, &["ZCARD", "retry"]), 10);
    let left = redis.cli(&["ZRANGE", "retry", "0", "-1"]);
    assert!(
        left.lines().all(|l| l.contains("\"class\":\"OtherJob\"")),
        "{left}"
    );
    assert_eq!(queued_jids(&redis, "default").len(), 20);
}

fn command_calls(redis: &Redis) -> BTreeMap<String, String> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter(|l| !l.starts_with("info:"))
        .filter_map(|l| {
            let (name, stats) = l.split_once(':')?;
            let calls = stats.split(',').find(|s| s.starts_with("calls="))?;
            Some((name.to_string(), calls.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_sends_nothing_for_every_sidekiq_action_and_audits_each_refusal() {
    let redis = Redis::start();
    let lock =
        r#","lock":"until_executed","lock_digest":"uniquejobs:00112233445566778899aabbccddeeff""#;
    redis.cli(&[
        "ZADD",
        "retry",
        &later(3600.0),
        &failed_job("FlakyJob", &jid(1), "default", lock),
    ]);
    redis.cli(&[
        "ZADD",
        "schedule",
        &later(600.0),
        &failed_job("FastJob", &jid(2), "default", ""),
    ]);
    redis.cli(&[
        "ZADD",
        "dead",
        &later(-60.0),
        &failed_job("DoomedJob", &jid(3), "default", ""),
    ]);
    redis.cli(&["SADD", "queues", "default", "pull"]);
    redis.cli(&[
        "LPUSH",
        "queue:pull",
        &failed_job("FastJob", &jid(4), "pull", ""),
    ]);
    fake_process(&redis, "", "web-1", 101, false);
    let r = reading(&redis, None).await;
    let tried = everything_offered(&r);
    let kinds: BTreeSet<&str> = tried.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        KINDS.into_iter().collect(),
        "every Sidekiq action kind"
    );

    let shadow = console(Role::Shadow, &redis, None);
    let before = command_calls(&redis);
    for a in &tried {
        assert_no_private_text(a);
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
        let preview = shadow.runtime.pipeline.preview(a, None).await;
        assert!(!preview.runnable);
    }
    assert_eq!(
        command_calls(&redis),
        before,
        "no command of any kind reached Redis"
    );
    let (records, unreadable) = shadow.audit.read_since(None).expect("audit");
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
    for kind in KINDS {
        assert!(
            records.iter().any(|r| r.kind == kind),
            "{kind} refusal audited"
        );
    }
    assert!(
        records.iter().all(|r| !serde_json::to_string(r)
            .expect("record serialises")
            .contains("private")),
        "job arguments and errors stay out of the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespaced_8x_instance_gets_prefixed_keys_bare_members_and_millisecond_stamps() {
    let redis = Redis::start();
    let ns = Some("mastodon");
    let j = jid(40);
    // 8.x: integer-millisecond timestamps in the job.
    let member = format!(
        r#"{{"retry":16,"queue":"push","class":"ActivityPub::DeliveryWorker","args":["private toot text"],"jid":"{j}","created_at":1795678279515,"enqueued_at":1795678279515,"error_message":"private error text","error_class":"HTTP::TimeoutError","failed_at":1795678279524,"retry_count":4}}"#
    );
    redis.cli(&["ZADD", "mastodon:retry", &later(3600.0), &member]);
    redis.cli(&["SADD", "mastodon:queues", "push"]);
    let r = reading(&redis, ns).await;
    assert_eq!(r.layout, "8.x (millisecond timestamps)");
    let actions = offered(&r, "Retries", &key_of(&r, "retry", &j));
    let retry = pick(&actions, "sidekiq.retry_job");
    assert!(
        retry.title.contains("ActivityPub::DeliveryWorker"),
        "{}",
        retry.title
    );
    let c = console(Role::Oncall, &redis, ns);
    let before_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let result = run(&c, &retry).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(num(&redis, &["ZCARD", "mastodon:retry"]), 0);
    assert_eq!(
        num(&redis, &["EXISTS", "retry"]),
        0,
        "nothing outside the namespace"
    );
    assert_eq!(num(&redis, &["EXISTS", "queue:push"]), 0);
    assert_eq!(
        redis.cli(&["SMEMBERS", "mastodon:queues"]),
        "push",
        "members stay bare"
    );
    let pushed: serde_json::Value =
        serde_json::from_str(&redis.cli(&["LINDEX", "mastodon:queue:push", "0"]))
            .expect("the pushed job");
    assert_eq!(pushed["retry_count"], 3);
    let stamp = pushed["enqueued_at"]
        .as_u64()
        .expect("integer milliseconds");
    assert!(
        stamp + 600_000 >= before_ms && stamp <= before_ms + 600_000,
        "{stamp}"
    );
    assert_eq!(
        pushed["args"][0], "private toot text",
        "arguments untouched"
    );
    assert_eq!(pushed["created_at"], 1795678279515_u64);

    // The namespaced signal list, and the namespaced queue clear.
    let id = fake_process(&redis, "mastodon:", "web-1", 7, false);
    let r = reading(&redis, ns).await;
    let stop = pick(&offered(&r, "Processes", &id), "sidekiq.stop_process");
    assert_eq!(
        stop.operations[1].display(),
        format!("LPUSH mastodon:{id}-signals TERM")
    );
    let result = run(&c, &stop).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(
        redis.cli(&["LRANGE", &format!("mastodon:{id}-signals"), "0", "-1"]),
        "TERM"
    );
    let clear = pick(&offered(&r, "Queues", "push"), "sidekiq.clear_queue");
    let result = run(&c, &clear).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(num(&redis, &["EXISTS", "mastodon:queue:push"]), 0);
    assert_eq!(num(&redis, &["EXISTS", "mastodon:queues"]), 0);
}
