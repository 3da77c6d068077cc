//! Silences through the guarded pipeline, against a real Alertmanager fed by a real
//! Prometheus: created with matchers from the firing alert and the operator as author,
//! reported back by Alertmanager's own API, audited with the exact JSON sent, expired; more
//! than the selected alert needs the count typed; a shadow session's attempt never reaches
//! Alertmanager (requests counted through a proxy); and the handoff report lists the
//! silences set during the shift, by whom, from Alertmanager.

use crate::support;

use std::time::{Duration, SystemTime};

use mastop::actions::kinds::silences::{self, SilenceDraft};
use mastop::actions::{AuditLog, Confirmation, Outcome, Phase, Risk};
use mastop::engine::{Engine, Options, Places};
use mastop::model::alerts::{Alert, AlertState, Matcher, SilenceState, count_matching};
use mastop::model::{ComponentId, Fleet};
use mastop::sources::alertmanager::AlertmanagerReading;
use support::CountingProxy;
use support::observability::Stack;

fn am() -> ComponentId {
    ComponentId::new("alertmanager", "main")
}

fn reading(fleet: &Fleet) -> AlertmanagerReading {
    fleet
        .get(&am())
        .and_then(|c| c.reading.clone())
        .and_then(|r| r.as_any().downcast_ref::<AlertmanagerReading>().cloned())
        .expect("an alertmanager reading")
}

fn alert<'a>(r: &'a AlertmanagerReading, name: &str) -> &'a Alert {
    r.set
        .alerts
        .iter()
        .find(|a| a.name() == name)
        .unwrap_or_else(|| panic!("{name} in {:?}", r.set.alerts))
}

fn places(dir: &std::path::Path) -> Places {
    Places {
        audit: dir.join("audit.jsonl"),
        state: dir.join("state"),
        handoffs: Some(dir.join("handoff")),
        ops_store: None,
    }
}

fn oncall(stack: &Stack, dir: &std::path::Path, extra: &str) -> Engine {
    let mut cfg = stack.config(extra);
    cfg.role = Some(mastop::actions::Role::Oncall);
    Engine::new(cfg, Options::default()).with_places(places(dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_is_created_audited_reported_and_expired() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = oncall(&stack, dir.path(), "");
    let runtime = engine.actions();
    let fleet = engine.poll_once().await;
    let r = reading(&fleet);
    let disk = alert(&r, "DiskAlmostFull");
    let draft = SilenceDraft {
        matchers: silences::matchers_for(disk),
        duration: Duration::from_secs(3600),
        comment: "growing the root volume".into(),
    };
    let matching = count_matching(&draft.matchers, r.set.firing());
    assert_eq!(matching, 1, "the alert's own labels select it alone");
    let who = engine.session().who();
    let action = silences::create(
        "alertmanager/main",
        &draft,
        &who,
        SystemTime::now(),
        matching,
    );
    assert_eq!(action.risk, Risk::Low);

    let result = runtime
        .run_with_approval(&action, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(result.message.contains("silence "), "{}", result.message);

    // Alertmanager itself reports it, with the operator as author.
    let listed = stack.alertmanager.get("/api/v2/silences");
    let silence = listed
        .as_array()
        .and_then(|l| l.iter().find(|s| s["comment"] == "growing the root volume"))
        .unwrap_or_else(|| panic!("no silence in {listed}"));
    assert_eq!(silence["createdBy"], who.as_str());
    assert_eq!(silence["status"]["state"], "active");
    let id = silence["id"].as_str().expect("an id").to_string();
    assert!(result.message.contains(&id), "{}", result.message);
    let matchers: Vec<Matcher> =
        serde_json::from_value(silence["matchers"].clone()).expect("matchers");
    let mut sent = draft.matchers.clone();
    sent.sort_by(|a, b| a.name.cmp(&b.name));
    let mut got = matchers;
    got.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got, sent);

    // The audit holds the exact JSON that was sent, before and after.
    let (records, _) = AuditLog::new(dir.path().join("audit.jsonl"))
        .read_since(None)
        .expect("audit readable");
    let intent = records
        .iter()
        .find(|r| r.phase == Phase::Intent && r.kind == silences::CREATE)
        .expect("an intent record");
    let mastop::actions::Operation::Alertmanager {
        body: Some(body), ..
    } = &action.operations[0]
    else {
        panic!("an Alertmanager operation")
    };
    assert_eq!(intent.operations, [format!("POST /api/v2/silences {body}")]);
    let sent: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(sent["createdBy"], silence["createdBy"]);
    assert_eq!(sent["comment"], silence["comment"]);
    let outcome = records
        .iter()
        .find(|r| r.phase == Phase::Outcome && r.kind == silences::CREATE)
        .expect("an outcome record");
    assert_eq!(outcome.outcome, Some(Outcome::Ok));

    // The next poll sees the alert silenced, no longer judged on its host.
    let fleet = engine.poll_once().await;
    let r = reading(&fleet);
    let disk = alert(&r, "DiskAlmostFull");
    assert_eq!(disk.state, AlertState::Suppressed);
    assert_eq!(disk.silenced_by, std::slice::from_ref(&id));
    let host = fleet.get(&ComponentId::new("host", "db-1")).expect("db-1");
    assert_eq!((host.alerts.firing, host.alerts.suppressed), (1, 1));
    assert!(
        !host
            .health
            .reasons
            .iter()
            .any(|r| r.contains("DiskAlmostFull")),
        "{:?}",
        host.health
    );

    // The handoff report reads it from Alertmanager, with its author.
    let shift = engine.shift().expect("shift");
    let (from_am, gaps) = mastop::handoff::report::silences_of(&fleet, SystemTime::now());
    assert!(gaps.is_empty(), "{gaps:?}");
    let now = SystemTime::now();
    let handoff = shift
        .write(mastop::handoff::shift::Draft {
            to: mastop::handoff::report::Person {
                name: "alex".into(),
                zone: "America/New_York".into(),
            },
            window: (
                now - Duration::from_secs(3600),
                now + Duration::from_secs(1),
            ),
            fleet_source: "live".into(),
            not_ok: Vec::new(),
            audit: records.clone(),
            alertmanager_silences: from_am,
            gaps,
        })
        .await
        .expect("written");
    let listed = handoff
        .alertmanager_silences
        .clone()
        .expect("from Alertmanager");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].created_by, who);
    assert_eq!(listed[0].state, "active");
    let markdown = mastop::handoff::markdown::render(&handoff);
    assert!(
        markdown.contains("## Silences set during the shift (1, from Alertmanager)"),
        "{markdown}"
    );
    assert!(markdown.contains("growing the root volume"), "{markdown}");

    // Expired from the console: Alertmanager says so.
    let s = r
        .set
        .silences
        .iter()
        .find(|s| s.id == id)
        .expect("the silence in the reading");
    assert_eq!(s.state, SilenceState::Active);
    let expire = silences::expire("alertmanager/main", s);
    // The same action the command line finds for the silences table's row.
    let offered = mastop::actions::catalog::for_component(
        fleet.get(&am()).expect("am"),
        Some(mastop::actions::catalog::Selected {
            table: mastop::sources::alertmanager::SILENCES_TABLE,
            key: &id,
        }),
        false,
    );
    assert_eq!(offered, std::slice::from_ref(&expire));
    let result = runtime
        .run_with_approval(&expire, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert!(
        result.decisions.iter().any(|d| d.guard == "precondition"
            && d.passed
            && d.detail == format!("silence {id} is active")),
        "{:?}",
        result.decisions
    );
    let state = stack.alertmanager.get(&format!("/api/v2/silence/{id}"));
    assert_eq!(state["status"]["state"], "expired");
    // Expiring it again is refused by the live re-check, before any change is sent.
    let again = runtime
        .run_with_approval(&expire, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_eq!(again.outcome, Outcome::Refused);
    assert!(
        again.message.contains("already expired"),
        "{}",
        again.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wider_matchers_need_the_count_typed_and_shadow_sends_nothing() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // Both consoles reach Alertmanager through a proxy that counts what gets there.
    let proxy = CountingProxy::start(stack.alertmanager.port());
    let through_proxy = format!(
        "[[alertmanager]]\nname = \"main\"\nurl = \"http://127.0.0.1:{}\"\n",
        proxy.port()
    );
    let direct = oncall(&stack, dir.path(), "");
    let fleet = direct.poll_once().await;
    let r = reading(&fleet);
    let draft = SilenceDraft {
        matchers: vec![Matcher::equal("instance", "db-1:9100")],
        duration: Duration::from_secs(1800),
        comment: "db-1 maintenance".into(),
    };
    let matching = count_matching(&draft.matchers, r.set.firing());
    assert_eq!(matching, 2, "DiskAlmostFull and SwapInUse");
    let action = silences::create(
        "alertmanager/proxied",
        &draft,
        "mei",
        SystemTime::now(),
        matching,
    );
    assert_eq!(action.risk, Risk::High);
    assert_eq!(action.target.name, "2 alerts");

    // Shadow: preview and run, nothing reaches Alertmanager.
    let mut shadow_cfg = stack.config("");
    shadow_cfg.alertmanager.push(
        mastop::config::load_str(&through_proxy, "t.toml", &[])
            .expect("valid")
            .0
            .alertmanager[0]
            .clone(),
    );
    shadow_cfg.alertmanager[1].name = "proxied".into();
    shadow_cfg.role = Some(mastop::actions::Role::Oncall);
    let shadow_dir = tempfile::tempdir().expect("tempdir");
    let shadow = Engine::new(
        shadow_cfg.clone(),
        Options {
            readonly: true,
            demo: None,
        },
    )
    .with_places(places(shadow_dir.path()));
    let ops = shadow.actions();
    assert!(
        ops.executor_for(&action).is_none(),
        "shadow holds no executor"
    );
    let preview = ops.pipeline.preview(&action, None).await;
    assert!(!preview.runnable);
    let refused = ops
        .run_with_approval(
            &action,
            Confirmation::Typed("2 alerts".into()),
            None,
            None,
            |_| {},
        )
        .await;
    assert_eq!(refused.outcome, Outcome::Refused);
    assert!(refused.message.contains("read-only"), "{}", refused.message);
    assert_eq!(
        proxy.round_trips(),
        0,
        "a shadow session sent Alertmanager nothing"
    );
    let (records, _) = AuditLog::new(shadow_dir.path().join("audit.jsonl"))
        .read_since(None)
        .expect("audit readable");
    assert!(
        records
            .iter()
            .any(|r| r.kind == silences::CREATE && r.outcome == Some(Outcome::Refused)),
        "the refusal is audited"
    );

    // On-call through the same proxy: confirming is not enough, the count must be typed.
    let oncall_dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::new(shadow_cfg, Options::default()).with_places(places(oncall_dir.path()));
    let ops = engine.actions();
    let refused = ops
        .run_with_approval(&action, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_eq!(refused.outcome, Outcome::Refused);
    assert!(
        refused.message.contains("refused by confirm"),
        "{}",
        refused.message
    );
    assert_eq!(proxy.round_trips(), 0, "refused before anything was sent");
    let done = ops
        .run_with_approval(
            &action,
            Confirmation::Typed("2 alerts".into()),
            None,
            None,
            |_| {},
        )
        .await;
    assert_eq!(done.outcome, Outcome::Ok, "{}", done.message);
    assert_eq!(proxy.round_trips(), 1, "one request: the POST");
    let listed = stack.alertmanager.get("/api/v2/silences");
    assert!(
        listed.as_array().is_some_and(|l| l
            .iter()
            .any(|s| s["comment"] == "db-1 maintenance" && s["createdBy"] == "mei")),
        "{listed}"
    );
}
