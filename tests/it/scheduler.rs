//! The scheduler with real sources: black-holed backends turn down at the deadline while
//! real ones keep updating, and cancelling stops every task.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use mastop::config::{Defaults, EndpointConfig};
use mastop::model::{ComponentId, SourceState};
use mastop::sources::{self, Feed, PollResult, Source, SourceSpec, Update, postgres, redis};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use support::{BlackHole, Postgres, Redis};

/// Hang guards only; what the tests assert is states and counts of updates.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn endpoint(name: &str, url: String) -> EndpointConfig {
    EndpointConfig {
        region: "test".into(),
        ..EndpointConfig::new(name, url)
    }
}

fn defaults() -> Defaults {
    Defaults {
        cadence: Duration::from_millis(200),
        deadline: Duration::from_millis(300),
        host_metrics: None,
    }
}

/// Wraps a source so the test learns when the scheduler has dropped it: each wrapper holds a
/// sender, and the receiver sees the channel close once every task has ended.
struct Tracked {
    inner: Box<dyn Source>,
    _alive: mpsc::Sender<()>,
}

impl Source for Tracked {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        self.inner.poll()
    }
}

fn tracked(spec: SourceSpec, alive: &mpsc::Sender<()>) -> SourceSpec {
    let SourceSpec {
        meta,
        schedule,
        enabled,
        source,
    } = spec;
    SourceSpec {
        meta,
        schedule,
        enabled,
        source: Box::new(Tracked {
            inner: source,
            _alive: alive.clone(),
        }),
    }
}

/// Everything the feed has said so far.
#[derive(Default)]
struct Seen {
    latest: HashMap<ComponentId, Update>,
    ok_updates: HashMap<ComponentId, usize>,
}

impl Seen {
    async fn until(&mut self, feed: &mut Feed, what: &str, done: impl Fn(&Seen) -> bool) {
        let waited = tokio::time::timeout(HANG_GUARD, async {
            while !done(self) {
                feed.changed().await;
                for (id, update) in feed.drain() {
                    if update.status.state == SourceState::Ok {
                        *self.ok_updates.entry(id.clone()).or_default() += 1;
                    }
                    self.latest.insert(id, update);
                }
            }
        })
        .await;
        if waited.is_err() {
            let states: Vec<String> = self
                .latest
                .iter()
                .map(|(id, u)| format!("{id}: {:?} {:?}", u.status.state, u.status.error))
                .collect();
            panic!("never saw {what}; last states: {states:#?}");
        }
    }

    fn state(&self, id: &ComponentId) -> Option<SourceState> {
        self.latest.get(id).map(|u| u.status.state)
    }

    fn oks(&self, id: &ComponentId) -> usize {
        self.ok_updates.get(id).copied().unwrap_or(0)
    }

    fn timed_out(&self, id: &ComponentId) -> bool {
        self.latest.get(id).is_some_and(|u| {
            u.status.state == SourceState::Down
                && u.status
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("no answer within 300ms"))
                && u.reading.is_none()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holes_go_down_while_real_backends_keep_updating() {
    let pg = Postgres::start();
    let redis_server = Redis::start();
    let hole = BlackHole::start();
    let d = defaults();
    let (alive, mut all_dropped) = mpsc::channel::<()>(1);
    let specs = vec![
        tracked(postgres::spec(&endpoint("primary", pg.url()), &d), &alive),
        tracked(
            redis::spec(&endpoint("cache", redis_server.url()), &d),
            &alive,
        ),
        tracked(
            postgres::spec(
                &endpoint(
                    "hung",
                    format!("postgres://mastop@127.0.0.1:{}/postgres", hole.port()),
                ),
                &d,
            ),
            &alive,
        ),
        tracked(
            redis::spec(
                &endpoint("hung", format!("redis://127.0.0.1:{}/", hole.port())),
                &d,
            ),
            &alive,
        ),
    ];
    drop(alive);
    let (pg_id, redis_id) = (
        ComponentId::new("postgres", "primary"),
        ComponentId::new("redis", "cache"),
    );
    let (pg_hung, redis_hung) = (
        ComponentId::new("postgres", "hung"),
        ComponentId::new("redis", "hung"),
    );

    let cancel = CancellationToken::new();
    let (mut feed, metas) = sources::spawn_all(specs, &cancel);
    let ids: Vec<&ComponentId> = metas.iter().map(|(m, _)| &m.id).collect();
    assert_eq!(
        ids,
        [&pg_id, &redis_id, &pg_hung, &redis_hung],
        "config order"
    );
    assert!(metas.iter().all(|(_, s)| s.state == SourceState::Pending));

    let mut seen = Seen::default();
    seen.until(
        &mut feed,
        "the black-holed sources time out and the real ones answer",
        |s| {
            s.timed_out(&pg_hung)
                && s.timed_out(&redis_hung)
                && s.oks(&pg_id) >= 1
                && s.oks(&redis_id) >= 1
        },
    )
    .await;
    // The kernel completes the handshake before the black hole's thread accepts; wait for it.
    for _ in 0..400 {
        if hole.accepted() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        hole.accepted() >= 2,
        "both hung sources reached the black hole"
    );

    // The real ones keep coming while the hung ones stay down.
    let (pg_before, redis_before) = (seen.oks(&pg_id), seen.oks(&redis_id));
    seen.until(&mut feed, "three more updates from each real source", |s| {
        s.oks(&pg_id) >= pg_before + 3 && s.oks(&redis_id) >= redis_before + 3
    })
    .await;
    assert_eq!(seen.state(&pg_id), Some(SourceState::Ok));
    assert_eq!(seen.state(&redis_id), Some(SourceState::Ok));
    assert!(seen.timed_out(&pg_hung) && seen.timed_out(&redis_hung));
    let reading = seen.latest[&pg_id]
        .reading
        .as_ref()
        .expect("an OK source has a reading");
    assert!(
        reading.summary().starts_with("PostgreSQL"),
        "{}",
        reading.summary()
    );

    // Cancelling ends every task, mid-poll or mid-sleep; each drops its source.
    cancel.cancel();
    let ended = tokio::time::timeout(HANG_GUARD, all_dropped.recv())
        .await
        .expect("tasks still running after cancel");
    assert!(ended.is_none(), "every source was dropped");

    // Dropped sources close their sessions on the servers too.
    let mut closed = false;
    for _ in 0..400 {
        let pg_sessions =
            pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mastop'");
        let redis_clients = redis_server.cli(&["CLIENT", "LIST"]).lines().count();
        if pg_sessions == "0" && redis_clients == 1 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(closed, "mastop's connections outlived the cancelled tasks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_comes_back_turns_ok_again() {
    let mut redis_server = Redis::start();
    let d = defaults();
    let (alive, _all_dropped) = mpsc::channel::<()>(1);
    let specs = vec![tracked(
        redis::spec(&endpoint("cache", redis_server.url()), &d),
        &alive,
    )];
    let id = ComponentId::new("redis", "cache");
    let cancel = CancellationToken::new();
    let (mut feed, _) = sources::spawn_all(specs, &cancel);

    let mut seen = Seen::default();
    seen.until(&mut feed, "the first OK", |s| {
        s.state(&id) == Some(SourceState::Ok)
    })
    .await;
    redis_server.stop();
    seen.until(&mut feed, "down while stopped", |s| {
        s.state(&id) == Some(SourceState::Down)
    })
    .await;
    let down = &seen.latest[&id];
    assert!(
        down.reading.is_some(),
        "the last good reading is kept while down"
    );
    assert!(
        down.status
            .error
            .as_deref()
            .is_some_and(|e| e.contains("connection refused")),
        "{:?}",
        down.status.error
    );

    redis_server.restart();
    let oks = seen.oks(&id);
    seen.until(&mut feed, "OK again after the restart", |s| {
        s.oks(&id) > oks
    })
    .await;
    assert_eq!(seen.state(&id), Some(SourceState::Ok));
    cancel.cancel();
}
