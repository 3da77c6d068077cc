//! Sidekiq job payloads are members' data: their arguments and error messages hold posts,
//! DMs and e-mail addresses. Generated hostile payloads (e-mails, unicode, escape
//! sequences, JSON-looking text, long values, random field orders, error fields, wrapped
//! ActiveJob mail deliveries) are put in a real Redis, read by the real source, and every
//! action offered on them is previewed, drawn, refused (shadow), run (on-call, against that
//! Redis) and reported at a handoff. No sequence of their bytes may appear in any preview,
//! screen, audit record, handoff report, log line or command output, while the exact
//! member still goes on the wire.
//!
//! The payloads and the leak check are in [`private_jobs`].

use crate::private_jobs;
use crate::pty;
use crate::support;

use std::time::{Duration, SystemTime};

use mastop::actions::audit::Outcome;
use mastop::actions::catalog::Selected;
use mastop::actions::kinds::retry_all::{self, Abort};
use mastop::actions::{Action, Confirmation, Role};
use mastop::config::{Config, EndpointConfig};
use mastop::model::{Reading, SectionBody};
use mastop::sources::sidekiq::{SidekiqReading, SidekiqSource};
use mastop::sources::{Schedule, Source};
use private_jobs::{Job, Outputs, Rng, captured_log, job};
use support::Redis;
use support::console::{Console, confirmed, run_with};

const COMPONENT: &str = "sidekiq/main";
/// A hang guard, not a timing claim.
const HANG_GUARD: Duration = Duration::from_secs(60);
// ---------------------------------------------------------------------------------------
// The fleet: a real Redis holding the generated jobs, read by the real source.

fn endpoint(redis: &Redis) -> EndpointConfig {
    toml::from_str(&format!("name = \"main\"\nurl = \"{}\"\n", redis.url()))
        .expect("a valid [[sidekiq]] entry")
}

fn console(role: Role, redis: &Redis) -> Console {
    Console::new(
        role,
        &Config {
            sidekiq: vec![endpoint(redis)],
            ..Config::default()
        },
        None,
    )
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Empties Redis and fills the retry, scheduled and dead sets with `n` generated jobs.
async fn seed_jobs(redis: &Redis, rng: &mut Rng, n: usize) -> Vec<Job> {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test Redis");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut conn)
        .await
        .expect("FLUSHALL");
    let now = now_secs();
    let mut jobs = Vec::new();
    for i in 0..n {
        let job = job(rng, now);
        let (set, score) = match i % 3 {
            0 => ("retry", now + 600.0 + i as f64),
            1 => ("schedule", now + 1200.0 + i as f64),
            _ => ("dead", now - 60.0 - i as f64),
        };
        let _: () = redis::cmd("ZADD")
            .arg(set)
            .arg(format!("{score:.3}"))
            .arg(&job.member)
            .query_async(&mut conn)
            .await
            .expect("ZADD");
        jobs.push(job);
    }
    let _: () = redis::cmd("SADD")
        .arg("queues")
        .arg(vec!["default", "push", "pull", "mailers"])
        .query_async(&mut conn)
        .await
        .expect("SADD");
    jobs
}

async fn reading(redis: &Redis) -> SidekiqReading {
    let mut source = SidekiqSource::new(
        &endpoint(redis),
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    );
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung")
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
    reading
        .as_any()
        .downcast_ref::<SidekiqReading>()
        .expect("a SidekiqReading")
        .clone()
}

/// Every action offered: on each row of each set table, and on the component.
fn everything_offered(r: &SidekiqReading) -> Vec<Action> {
    let mut all = mastop::actions::kinds::offer(COMPONENT, "sidekiq", r, None);
    for section in r.detail().sections {
        let SectionBody::Table(t) = &section.body else {
            continue;
        };
        if !["Retries", "Scheduled", "Dead"]
            .iter()
            .any(|p| section.title.starts_with(p))
        {
            continue;
        }
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

/// The members of `set` in Redis now.
async fn members(redis: &Redis, set: &str) -> Vec<String> {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    redis::cmd("ZRANGE")
        .arg(set)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("ZRANGE")
}

async fn queued(redis: &Redis, queue: &str) -> Vec<String> {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    redis::cmd("LRANGE")
        .arg(format!("queue:{queue}"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .expect("LRANGE")
}

fn handoff_outputs(out: &mut Outputs, records: &[mastop::actions::AuditRecord], what: &str) {
    use mastop::handoff::report::{Inputs, Person, build};
    let now = SystemTime::now();
    let handoff = build(Inputs {
        id: "h1".into(),
        written_at: now,
        from: Person {
            name: "kris".into(),
            zone: "Europe/Berlin".into(),
        },
        to: Person {
            name: "alex".into(),
            zone: "America/Vancouver".into(),
        },
        console_host: "laptop".into(),
        console_id: "laptop:1".into(),
        window: (
            now - Duration::from_secs(3600),
            now + Duration::from_secs(60),
        ),
        fleet_source: "test".into(),
        not_ok: Vec::new(),
        audit: records,
        entries: &[],
        gaps: Vec::new(),
        alertmanager_silences: None,
    });
    assert!(
        !handoff.actions.is_empty(),
        "the {what} actions are in the report"
    );
    out.add(
        format!("handoff report ({what}, Markdown)"),
        mastop::handoff::markdown::render(&handoff),
    );
    out.add(
        format!("handoff report ({what}, JSON)"),
        serde_json::to_string(&handoff).expect("report serialises"),
    );
}

/// The console at the keyboard: each set table, its first rows, the action menu and every
/// dialog in it with the guards' answers, drawn on a test terminal.
fn screens(out: &mut Outputs, r: &SidekiqReading, previews: &[(Action, mastop::actions::Preview)]) {
    use crossterm::event::{KeyCode, KeyEvent};
    use mastop::tui::command::Command as Key;
    for table in ["Retries", "Scheduled", "Dead"] {
        let mut app = support::sidekiq::console_app(r.clone());
        support::sidekiq::focus_table(&mut app, table);
        out.add(
            format!("{table} table"),
            support::sidekiq::render(&app, 140, 50),
        );
        for row in 0..2 {
            app.apply(Key::Actions);
            let Some(menu) = app.menu.as_ref() else {
                continue;
            };
            let items = menu.items.len();
            out.add(
                format!("{table} row {row} menu"),
                support::sidekiq::render(&app, 140, 50),
            );
            app.handle_key(KeyEvent::from(KeyCode::Esc));
            for item in 0..items {
                app.apply(Key::Actions);
                for _ in 0..item {
                    app.handle_key(KeyEvent::from(KeyCode::Down));
                }
                app.handle_key(KeyEvent::from(KeyCode::Enter));
                if let Some(dialog) = app.dialog.as_mut() {
                    dialog.preview = previews
                        .iter()
                        .find(|(a, _)| *a == dialog.action)
                        .map(|(_, p)| p.clone());
                }
                out.add(
                    format!("{table} row {row} dialog {item}"),
                    support::sidekiq::render(&app, 140, 50),
                );
                app.handle_key(KeyEvent::from(KeyCode::Esc));
            }
            app.handle_key(KeyEvent::from(KeyCode::Down));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The properties.

/// Shadow: every action on every generated job is listed, previewed, drawn and refused;
/// the refusals are audited and reported at a handoff. Nothing private anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_screens_refusals_audit_and_handoff_never_hold_a_payload_byte() {
    let log = captured_log();
    let redis = Redis::start();
    for seed in 1..=6u64 {
        let mut rng = Rng::new(seed);
        let jobs = seed_jobs(&redis, &mut rng, 24).await;
        let r = reading(&redis).await;
        let shadow = console(Role::Shadow, &redis);
        let mut out = Outputs::default();
        let offered = everything_offered(&r);
        let rows = offered
            .iter()
            .filter(|a| a.kind == "sidekiq.retry_job")
            .count();
        assert!(
            rows >= jobs.len() / 2,
            "seed {seed}: retry offered on the generated rows ({rows})"
        );
        let mut previews = Vec::new();
        for a in &offered {
            out.add(
                format!("{} title", a.kind),
                format!("{} · {}", a.title, a.target),
            );
            for op in &a.operations {
                out.add(format!("{} operation", a.kind), op.display());
            }
            let preview = shadow.runtime.pipeline.preview(a, None).await;
            out.add(format!("{} preview", a.kind), format!("{preview:?}"));
            let refused = run_with(&shadow, a, confirmed(a)).await;
            assert_eq!(refused.outcome, Outcome::Refused, "seed {seed}: {}", a.kind);
            out.add(format!("{} refusal", a.kind), format!("{refused:?}"));
            previews.push((a.clone(), preview));
        }
        screens(&mut out, &r, &previews);
        let audit = std::fs::read_to_string(shadow.audit.path()).expect("shadow audit");
        assert_eq!(
            audit.lines().count(),
            offered.len(),
            "seed {seed}: one refusal record per attempt"
        );
        out.add("audit.jsonl (shadow)", audit);
        let (records, unreadable) = shadow.audit.read_since(None).expect("audit");
        assert_eq!(unreadable, 0);
        handoff_outputs(&mut out, &records, "refused");
        let logged = String::from_utf8_lossy(&log.lock().expect("log").clone()).into_owned();
        out.add("log", logged);
        out.assert_no_leak(&jobs, seed);
    }
}

/// On-call against the real Redis: retry, delete and kill single jobs, a class batch and a
/// retry-all flow. Each moves exactly the generated member (the arguments arrive intact in
/// the queue), and the intent and outcome records, the results and the handoff report hold
/// none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_that_run_send_the_exact_member_and_record_only_its_fingerprint() {
    let log = captured_log();
    let redis = Redis::start();
    for seed in 101..=104u64 {
        let mut rng = Rng::new(seed);
        let jobs = seed_jobs(&redis, &mut rng, 18).await;
        let oncall = console(Role::Oncall, &redis);
        let mut out = Outputs::default();
        let mut ran = 0;

        for (kind, set) in [
            ("sidekiq.retry_job", "retry"),
            ("sidekiq.delete_job", "schedule"),
            ("sidekiq.kill_job", "retry"),
            ("sidekiq.retry_job", "dead"),
        ] {
            let r = reading(&redis).await;
            let before = members(&redis, set).await;
            let action = everything_offered(&r)
                .into_iter()
                .find(|a| a.kind == kind && a.target.name == set)
                .unwrap_or_else(|| panic!("seed {seed}: {kind} offered on the {set} set"));
            let member = before
                .iter()
                .find(|m| action.title.contains(&job_jid(m)))
                .cloned()
                .unwrap_or_else(|| panic!("seed {seed}: the job of {}", action.title));
            let result = run_with(&oncall, &action, confirmed(&action)).await;
            assert_eq!(
                result.outcome,
                Outcome::Ok,
                "seed {seed}: {kind}: {}",
                result.message
            );
            out.add(format!("{kind} result"), format!("{result:?}"));
            assert!(
                !members(&redis, set).await.contains(&member),
                "seed {seed}: {kind} removed the exact member from {set}"
            );
            let job: serde_json::Value = serde_json::from_str(&member).expect("member is JSON");
            match kind {
                "sidekiq.retry_job" => {
                    let queue = job["queue"].as_str().expect("queue");
                    let pushed = queued(&redis, queue).await;
                    assert!(
                        pushed
                            .iter()
                            .any(
                                |p| serde_json::from_str::<serde_json::Value>(p).is_ok_and(
                                    |p| p["jid"] == job["jid"]
                                        && p["args"] == job["args"]
                                        && p["error_message"] == job["error_message"]
                                )
                            ),
                        "seed {seed}: the job went to queue:{queue} with its arguments intact"
                    );
                }
                "sidekiq.kill_job" => assert!(
                    members(&redis, "dead").await.contains(&member),
                    "seed {seed}: the exact member moved to the dead set"
                ),
                _ => {}
            }
            ran += 1;
        }

        // A class batch and a retry-all of the dead set, through the pipeline and the flow.
        let r = reading(&redis).await;
        let batch = everything_offered(&r)
            .into_iter()
            .find(|a| a.kind == "sidekiq.retry_batch" && a.target.name == "retry")
            .unwrap_or_else(|| panic!("seed {seed}: a retry batch"));
        let result = run_with(&oncall, &batch, confirmed(&batch)).await;
        assert_eq!(
            result.outcome,
            Outcome::Ok,
            "seed {seed}: {}",
            result.message
        );
        out.add("batch result", format!("{result:?}"));
        let flow = everything_offered(&r)
            .into_iter()
            .find(|a| a.kind == retry_all::KIND && a.target.object == "dead set")
            .unwrap_or_else(|| panic!("seed {seed}: retry all of the dead set"));
        let mut lines = Vec::new();
        let result = tokio::time::timeout(
            HANG_GUARD,
            retry_all::run(
                &oncall.runtime,
                &flow,
                Confirmation::Typed("dead".into()),
                &Abort::new(),
                |p| lines.push(p.line()),
            ),
        )
        .await
        .expect("the flow hung");
        assert_eq!(
            result.outcome,
            Outcome::Ok,
            "seed {seed}: {}",
            result.message
        );
        assert!(
            members(&redis, "dead").await.is_empty(),
            "seed {seed}: the dead set was retried"
        );
        out.add("flow result", format!("{result:?} {lines:?}"));

        let audit = std::fs::read_to_string(oncall.audit.path()).expect("on-call audit");
        let (records, unreadable) = oncall.audit.read_since(None).expect("audit");
        assert_eq!(unreadable, 0);
        assert!(
            records
                .iter()
                .filter(|r| r.outcome == Some(Outcome::Ok))
                .count()
                >= ran + 2,
            "seed {seed}: every action's outcome recorded"
        );
        out.add("audit.jsonl (on-call)", audit);
        handoff_outputs(&mut out, &records, "run");
        let logged = String::from_utf8_lossy(&log.lock().expect("log").clone()).into_owned();
        out.add("log", logged);
        out.assert_no_leak(&jobs, seed);
        assert!(
            records
                .iter()
                .any(|r| r.operations.iter().any(|o| o.contains("<job "))),
            "seed {seed}: payloads are recorded by fingerprint"
        );
    }
}

/// The jid in a member, for finding the member an action's title names.
fn job_jid(member: &str) -> String {
    serde_json::from_str::<serde_json::Value>(member)
        .ok()
        .and_then(|j| j["jid"].as_str().map(String::from))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// The report's own case, with the real binary.

/// The reported case: a retry whose payload starts `{"args":["secret-arg@example.org"],…`,
/// selected in the real console and `a` pressed. The dialog shows the job by fingerprint;
/// running it from a shadow console is refused and audited; the log file at trace level,
/// the audit, `action preview`, `audit tail --json`, and a handoff written and shown by an
/// on-call console hold none of the payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reported_retry_in_the_real_console_and_commands() {
    const SECRET: &str = "secret-arg@example.org";
    const ERROR: &str = "undeliverable to secret-arg@example.org";
    let redis = Redis::start();
    let jid = "0123456789abcdef01234567";
    let member = format!(
        r#"{{"args":["{SECRET}"],"class":"FlakyJob","jid":"{jid}","queue":"default","retry":true,"retry_count":0,"created_at":1795678279.5,"enqueued_at":1795678279.5,"failed_at":1795678279.6,"error_message":"{ERROR}","error_class":"RuntimeError"}}"#
    );
    let job = Job {
        member: member.clone(),
        secrets: vec![SECRET.into(), ERROR.into()],
        jid: jid.into(),
    };
    redis.cli(&[
        "ZADD",
        "retry",
        &format!("{:.3}", now_secs() + 600.0),
        &member,
    ]);
    redis.cli(&["SADD", "queues", "default"]);
    let r = reading(&redis).await;
    let key = r
        .retry_set
        .as_ref()
        .and_then(|p| p.entries.first())
        .map(|e| e.key())
        .expect("the retry is on the page");
    let detail = r.detail();
    let tables = mastop::tui::rows::detail::table_titles(&detail);
    let retries = tables
        .iter()
        .position(|t| t.starts_with("Retries"))
        .expect("a Retries table");
    let mut out = Outputs::default();

    // The console, as shadow, at trace level.
    let config = |role: &str| {
        format!(
            "{role}[[sidekiq]]\nname = \"main\"\nurl = \"{}\"\n",
            redis.url()
        )
    };
    let shadow_config = config("");
    let mut c = pty::Console::start_with(&["--log-level", "trace"], 140, 45, |home| {
        let dir = home.join("config/mastop");
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(dir.join("config.toml"), &shadow_config).expect("config");
    });
    c.wait_for_text("sidekiq/main");
    c.send(b"\r");
    c.wait_for_text("Retries");
    for _ in 0..retries {
        c.send(b"]");
    }
    c.wait_for_text("FlakyJob");
    c.send(b"a");
    c.wait_for_text("Actions on sidekiq/main");
    out.add("console: action menu", c.contents());
    c.send(b"\r");
    c.wait_for_text("Will run exactly");
    let dialog = c.wait_for("the guards answered", |s| s.contains("✖ role"));
    out.add("console: dialog", dialog.clone());
    c.send(b"\t");
    c.send(b"\r");
    let refused = c.wait_for_text("refused by role");
    out.add("console: refusal", refused);
    // ESC and a key sent together read as alt-key, as in any terminal: wait between.
    c.send(b"\x1b");
    c.wait_for("the dialog closed", |s| !s.contains("Will run exactly"));
    c.send(b"q");
    assert!(c.wait_exit(), "the console exits 0");
    let home = c.home().to_path_buf();
    let audit = std::fs::read_to_string(home.join("data/mastop/audit.jsonl")).expect("audit");
    out.add("console: audit.jsonl", audit.clone());
    let mut logs = 0;
    for entry in std::fs::read_dir(home.join("state/mastop")).expect("log dir") {
        let path = entry.expect("entry").path();
        if let Ok(text) = std::fs::read_to_string(&path) {
            logs += 1;
            out.add(format!("log file {}", path.display()), text);
        }
    }
    assert!(logs > 0, "the console wrote its log");
    assert!(
        std::fs::symlink_metadata(home.join("state/mastop/mastop.log"))
            .is_ok_and(|m| m.file_type().is_symlink()),
        "mastop.log links to the day's file"
    );
    out.assert_no_leak(std::slice::from_ref(&job), 0);
    // The operation wraps in the dialog; the fingerprint's parts are on screen.
    assert!(
        dialog.contains("<job") && dialog.contains(jid) && dialog.contains("sha256"),
        "the dialog names the job by fingerprint:\n{dialog}"
    );
    assert!(
        audit.contains("\"refused\"") && audit.contains("<job FlakyJob"),
        "the refusal is audited with the fingerprint:\n{audit}"
    );

    // The same from the command line.
    let cli_home = tempfile::tempdir().expect("home");
    let write = |text: &str| {
        let path = cli_home.path().join("mastop.toml");
        std::fs::write(&path, text).expect("config");
        path.to_string_lossy().into_owned()
    };
    let run = |config: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env_clear()
            .env("HOME", cli_home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("run mastop");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let target = [
        "--component",
        COMPONENT,
        "--table",
        "Retries",
        "--row",
        key.as_str(),
    ];
    let shadow = write(&shadow_config);
    let mut args = vec!["action", "preview", "sidekiq.retry_job"];
    args.extend(target);
    let (code, preview) = run(&shadow, &args);
    assert_eq!(code, Some(0), "{preview}");
    assert!(preview.contains("<job FlakyJob"), "{preview}");
    out.add("action preview", preview);
    let mut args = vec!["action", "run", "sidekiq.kill_job", "--yes"];
    args.extend(target);
    let (code, refused) = run(&shadow, &args);
    assert_eq!(code, Some(3), "refused: {refused}");
    out.add("action run (shadow)", refused);

    let oncall = write(&config("role = \"oncall\"\n"));
    let mut args = vec!["action", "run", "sidekiq.retry_job", "--yes"];
    args.extend(target);
    let (code, done) = run(&oncall, &args);
    assert_eq!(code, Some(0), "{done}");
    out.add("action run (on-call)", done);
    let pushed = redis.cli(&["LRANGE", "queue:default", "0", "-1"]);
    assert!(
        pushed.contains(SECRET),
        "the exact job went back to its queue: {pushed}"
    );
    let (code, tail) = run(&oncall, &["audit", "tail", "--json"]);
    assert_eq!(code, Some(0), "{tail}");
    assert!(tail.contains("<job FlakyJob"), "{tail}");
    out.add("audit tail --json", tail);
    let (_, written) = run(
        &oncall,
        &[
            "handoff",
            "write",
            "--to",
            "alex",
            "--to-zone",
            "UTC",
            "--since",
            "1h",
        ],
    );
    out.add("handoff write", written);
    let (code, shown) = run(&oncall, &["handoff", "show"]);
    assert!(
        shown.contains("Retry FlakyJob job"),
        "the action is in the report ({code:?}):\n{shown}"
    );
    out.add("handoff show", shown);
    let (_, json) = run(&oncall, &["handoff", "show", "--json"]);
    out.add("handoff show --json", json);
    out.assert_no_leak(&[job], 0);
}
