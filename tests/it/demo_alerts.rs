//! The demo's simulated Alertmanager: alerts fire with the scripted incidents and are tied
//! to the demo components by the same rules as a real fleet's; silences made in the demo
//! live in its sandbox and change what the next poll shows, while a configured real
//! Alertmanager receives nothing.

use crate::support;

use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use mastop::actions::kinds::silences::{self, SilenceDraft};
use mastop::actions::{AuditLog, Confirmation, Outcome, Phase};
use mastop::engine::{Demo, Engine, Options, Places};
use mastop::model::alerts::{AlertState, SilenceState, count_matching};
use mastop::model::{ComponentId, Level};
use mastop::sources::SourceSpec;
use mastop::sources::alertmanager::AlertmanagerReading;

fn demo_engine(at_s: u64, cfg: mastop::config::Config, dir: &std::path::Path) -> Engine {
    Engine::new(
        cfg,
        Options {
            readonly: false,
            demo: Some(Demo {
                at: Duration::from_secs(at_s),
                drill: false,
            }),
        },
    )
    .with_places(Places {
        audit: dir.join("audit.jsonl"),
        state: dir.join("state"),
        handoffs: Some(dir.join("handoff")),
        ops_store: None,
    })
}

fn am() -> ComponentId {
    ComponentId::new("alertmanager", "main")
}

fn poll_am(specs: &mut [SourceSpec]) -> AlertmanagerReading {
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id == am())
        .expect("the demo has an Alertmanager");
    let mut cx = Context::from_waker(Waker::noop());
    let mut poll = spec.source.poll();
    let Poll::Ready(Ok(reading)) = poll.as_mut().poll(&mut cx) else {
        panic!("the demo's Alertmanager answers at once");
    };
    reading
        .as_any()
        .downcast_ref::<AlertmanagerReading>()
        .expect("an Alertmanager reading")
        .clone()
}

#[tokio::test]
async fn incident_alerts_are_tied_to_the_demo_components() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = demo_engine(260, Default::default(), dir.path());
    let fleet = engine.poll_once().await;
    let firing = |id: &str| {
        let (kind, name) = id.split_once('/').expect("kind/name");
        let c = fleet
            .get(&ComponentId::new(kind, name))
            .unwrap_or_else(|| panic!("{id}"));
        (c.alerts.firing, c.alerts.suppressed)
    };
    // The pull backlog pages; its warning is inhibited by the page.
    assert_eq!(firing("sidekiq/main"), (1, 1));
    // The WAL archive volume is on db-1 (node_exporter), not on the Postgres there.
    assert_eq!(firing("host/db-1"), (1, 1));
    assert_eq!(firing("postgres/primary"), (0, 0));
    assert_eq!(firing("postgres/replica"), (1, 0));
    assert_eq!(firing("edge/tokyo-1"), (1, 1));
    // Only the Watchdog is tied to nothing: it is counted on the Alertmanager.
    assert_eq!(firing("alertmanager/main"), (1, 0));
    let db1 = fleet
        .get(&ComponentId::new("host", "db-1"))
        .expect("host/db-1");
    assert!(
        db1.health
            .reasons
            .iter()
            .any(|r| r.contains("alert NodeFilesystemAlmostOutOfSpace firing (critical)")),
        "{:?}",
        db1.health.reasons
    );
    assert_eq!(db1.health.level, Level::Crit);
    let tied: usize = fleet
        .alerts()
        .filter(|(_, t)| !t.components.is_empty())
        .count();
    assert_eq!(tied, 7, "every incident alert found its component");

    // A calm second: only the Watchdog, and it never makes anything unhealthy.
    let calm = demo_engine(595, Default::default(), dir.path())
        .poll_once()
        .await;
    assert_eq!(calm.alerts().count(), 1);
    assert!(
        calm.components()
            .iter()
            .all(|c| c.alerts.findings.is_empty())
    );
}

#[tokio::test]
async fn snapshot_json_carries_the_demo_alerts_grouped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = demo_engine(500, Default::default(), dir.path())
        .poll_once()
        .await;
    let r = fleet
        .get(&am())
        .and_then(|c| c.reading.clone())
        .expect("a reading");
    let json = r.to_json();
    let groups = json["groups"].as_array().expect("groups");
    let names: Vec<&str> = groups
        .iter()
        .filter_map(|g| g["labels"]["alertname"].as_str())
        .collect();
    assert!(names.contains(&"ElasticsearchClusterNotGreen"), "{names:?}");
    let es = json["alerts"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|a| a["labels"]["alertname"] == "ElasticsearchClusterNotGreen")
        })
        .expect("the Elasticsearch alert");
    assert_eq!(es["state"], "suppressed", "the planned restart is silenced");
    assert_eq!(json["silences"][0]["created_by"], "kris on console-3");
}

/// A silence made in the demo: created through the guarded pipeline, audited in the
/// sandbox, shown by the simulated Alertmanager's next poll, expired again. A real
/// Alertmanager in the config hears nothing of it.
#[tokio::test]
async fn demo_silences_live_in_the_sandbox_only() {
    let real = support::scripted_http::ScriptedHttp::start();
    let (cfg, _) = mastop::config::load_str(
        &format!(
            "[[alertmanager]]\nname = \"main\"\nurl = \"{}\"\n",
            real.url()
        ),
        "demo.toml",
        &[],
    )
    .expect("config");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = demo_engine(500, cfg, dir.path());
    let runtime = engine.actions();
    let mut specs = engine.sources();

    let before = poll_am(&mut specs);
    let unit = before
        .set
        .alerts
        .iter()
        .find(|a| a.name() == "SystemdUnitNotActive")
        .expect("redis-1's firewall alert fires at 500 s");
    assert_eq!(unit.state, AlertState::Active);
    let draft = SilenceDraft {
        matchers: silences::matchers_for(unit),
        duration: Duration::from_secs(1800),
        comment: "starting nftables by hand".into(),
    };
    let matching = count_matching(&draft.matchers, before.set.firing());
    assert_eq!(matching, 1);
    let who = engine.session().who();
    let create = silences::create("alertmanager/main", &draft, &who, SystemTime::now(), 1);
    let result = runtime
        .run_with_approval(&create, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);

    let after = poll_am(&mut specs);
    let silence = after
        .set
        .silences
        .iter()
        .find(|s| s.comment == "starting nftables by hand")
        .expect("the simulated Alertmanager lists the new silence");
    assert_eq!(silence.created_by, who);
    assert_eq!(silence.state, SilenceState::Active);
    let unit = after
        .set
        .alerts
        .iter()
        .find(|a| a.name() == "SystemdUnitNotActive")
        .expect("still firing underneath");
    assert_eq!(unit.state, AlertState::Suppressed);
    assert_eq!(unit.silenced_by, std::slice::from_ref(&silence.id));

    let expire = silences::expire("alertmanager/main", silence);
    let result = runtime
        .run_with_approval(&expire, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    let expired = poll_am(&mut specs);
    let silence = expired
        .set
        .silences
        .iter()
        .find(|s| s.comment == "starting nftables by hand")
        .expect("an expired silence is still listed");
    assert_eq!(silence.state, SilenceState::Expired);
    assert!(
        expired
            .set
            .alerts
            .iter()
            .any(|a| a.name() == "SystemdUnitNotActive" && a.state == AlertState::Active)
    );
    // Expiring twice is refused by the live re-check, not sent.
    let again = runtime
        .run_with_approval(&expire, Confirmation::Confirmed, None, None, |_| {})
        .await;
    assert_ne!(again.outcome, Outcome::Ok, "{}", again.message);

    let (records, _) = AuditLog::new(dir.path().join("audit.jsonl"))
        .read_since(None)
        .expect("the sandbox audit is readable");
    let outcomes = records
        .iter()
        .filter(|r| r.phase == Phase::Outcome && r.outcome == Some(Outcome::Ok))
        .count();
    assert_eq!(outcomes, 2, "created and expired, in the sandbox's audit");
    assert!(
        real.requests().is_empty(),
        "the configured Alertmanager was sent {:?}",
        real.requests()
    );
}
