//! The live room: a collector polling a real Redis publishes through a real PostgreSQL ops
//! store, and watchers build the fleet from there without touching production. Drawn from
//! the store, every view looks as drawn from a direct poll.

use crate::support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use mastop::config::OpsStoreConfig;
use mastop::engine::{Engine, Options};
use mastop::live::LiveComponent;
use mastop::live::collector::collect;
use mastop::live::watch::{Watcher, follow};
use mastop::model::{ComponentMeta, Fleet, SourceState, SourceStatus};
use mastop::store::PgStore;
use mastop::store::live::{CHANNEL, Published};
use mastop::tui::app::App;
use mastop::tui::command::Command;
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::{BlackHole, Postgres, Redis};
use tokio_util::sync::CancellationToken;

/// A hang guard only: the room answers in well under a second on a healthy machine.
const HANG_GUARD: Duration = Duration::from_secs(60);

pub(crate) async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG_GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what} hung past the hang guard"),
    }
}

/// The ops store at `url`, as a console's config names it.
pub(crate) fn store_config(url: String, deadline: Duration) -> OpsStoreConfig {
    OpsStoreConfig {
        url,
        password: None,
        lock_ttl: Duration::from_secs(120),
        approval_ttl: Duration::from_secs(900),
        deadline,
        tls_ca: None,
    }
}

/// The ops store in `pg`, logged in as `user`.
pub(crate) async fn connect_as(
    pg: &Postgres,
    user: &str,
    deadline: Duration,
) -> Result<PgStore, String> {
    guarded(
        "connect",
        PgStore::connect(&store_config(pg.url_as(user), deadline)),
    )
    .await
}

pub(crate) async fn store(pg: &Postgres) -> PgStore {
    let config = store_config(pg.url(), Duration::from_secs(10));
    match guarded("connect", PgStore::connect(&config)).await {
        Ok(store) => store,
        Err(e) => panic!("connect to the ops store failed: {e}\n{}", pg.log_tail()),
    }
}

fn engine(toml: &str) -> Engine {
    let (cfg, _) = mastop::config::load_str(toml, "t.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(cfg, Options::default())
}

pub(crate) fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

/// The demo fleet after 16 polls, as a console polling it directly holds it.
pub(crate) fn direct_fleet() -> Fleet {
    let t = Duration::from_secs(240);
    let now = epoch();
    let metas: Vec<(ComponentMeta, SourceStatus)> = mastop::demo::readings_at(t, now)
        .iter()
        .map(|(m, _)| (m.clone(), SourceStatus::pending(Duration::from_secs(2))))
        .collect();
    let mut fleet = Fleet::new(metas, Default::default());
    for k in (0..16u64).rev() {
        let at = t.saturating_sub(Duration::from_secs(k * 2));
        let seen = now - Duration::from_secs(k * 2 + 1);
        for (meta, reading) in mastop::demo::readings_at(at, now - (t - at)) {
            let status = SourceStatus {
                state: SourceState::Ok,
                last_ok: Some(seen),
                last_attempt: Some(seen),
                ..SourceStatus::pending(Duration::from_secs(2))
            };
            fleet.apply(&meta.id, status, Some(reading));
        }
    }
    fleet.refresh_staleness(now);
    fleet
}

/// The same fleet as a watcher builds it: every component through its published JSON.
fn watched(direct: &Fleet) -> Fleet {
    let published = direct
        .components()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let text = serde_json::to_string(&LiveComponent::of(c)).expect("encodes");
            Published {
                seq: i as i64 + 1,
                position: i as i32,
                component: serde_json::from_str(&text).expect("decodes"),
            }
        })
        .collect();
    let mut watcher = Watcher::new(Default::default(), Default::default());
    assert_eq!(watcher.apply(published), direct.components().len());
    let mut fleet = watcher.fleet().clone();
    fleet.refresh_staleness(epoch());
    fleet
}

pub(crate) fn render(fleet: Fleet, keys: &[Command], width: u16, height: u16) -> String {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(fleet, keymap, theme, epoch());
    app.rebuild();
    for key in keys {
        app.apply(*key);
    }
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, &app)).expect("draw");
    terminal.backend().to_string()
}

#[test]
fn the_room_draws_every_view_exactly_as_a_direct_poll() {
    let direct = direct_fleet();
    let room = watched(&direct);
    let n = direct.components().len();
    let mut details = std::collections::BTreeSet::new();
    for (w, h) in [(120, 40), (80, 24)] {
        assert_eq!(
            render(direct.clone(), &[], w, h),
            render(room.clone(), &[], w, h),
            "overview at {w}x{h}"
        );
        for (i, view) in [
            Command::View2,
            Command::View3,
            Command::View4,
            Command::View5,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(
                render(direct.clone(), &[view], w, h),
                render(room.clone(), &[view], w, h),
                "kind view {i} at {w}x{h}"
            );
        }
        for i in 0..n {
            let mut keys = vec![Command::Top];
            keys.extend(std::iter::repeat_n(Command::Down, i));
            keys.push(Command::Select);
            let from_poll = render(direct.clone(), &keys, w, h);
            let from_store = render(room.clone(), &keys, w, h);
            assert_eq!(from_poll, from_store, "detail of row {i} at {w}x{h}");
            // Each row opens a different component's detail, so every one is compared.
            let named = direct
                .components()
                .iter()
                .filter(|c| from_poll.contains(&format!("┌ {} ", c.meta.id)))
                .map(|c| c.meta.id.clone());
            details.extend(named);
        }
    }
    assert_eq!(details.len(), n, "details compared: {details:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_follows_the_collector_and_never_touches_production() {
    let pg = Postgres::start();
    let redis = Redis::start();
    let collector_store = Arc::new(store(&pg).await);
    let ears = store(&pg).await;
    let mut heard = guarded("listen", ears.listen(CHANNEL))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let collector = engine(&format!(
        "[defaults]\ncadence = \"300ms\"\ndeadline = \"2s\"\n[[redis]]\nname = \"cache\"\nurl = \"{}\"\n",
        redis.url()
    ));
    let stop_collecting = CancellationToken::new();
    let collecting = {
        let (store, cancel) = (Arc::clone(&collector_store), stop_collecting.clone());
        tokio::spawn(async move { collect(&collector, &store, "collector-test", &cancel).await })
    };

    // The watcher's config names production at an address that answers nothing: a single
    // connection there would show.
    let hole = BlackHole::start();
    let watcher_engine = engine(&format!(
        "[[redis]]\nname = \"cache\"\nurl = \"redis://{}/0\"\n",
        hole.addr()
    ));
    let watcher_store = store(&pg).await;
    let mut watcher = Watcher::for_engine(&watcher_engine);
    let stop_watching = CancellationToken::new();
    let wakes = AtomicUsize::new(0);
    let marker_seen = AtomicUsize::new(0);
    let redis_cli = redis.cli(&["SET", "live-room-marker", "1"]);
    assert!(redis_cli.contains("OK"), "{redis_cli}");
    guarded(
        "follow the room until the new key shows",
        follow(&watcher_store, &mut watcher, &stop_watching, |fleet| {
            wakes.fetch_add(1, Ordering::SeqCst);
            let Some(c) = fleet
                .components()
                .iter()
                .find(|c| c.meta.id.as_str() == "redis/cache")
            else {
                return;
            };
            let keys = c
                .reading
                .as_ref()
                .map(|r| r.to_json())
                .and_then(|j| j["keyspace"][0]["keys"].as_u64());
            if c.status.state == SourceState::Ok && keys == Some(1) {
                marker_seen.fetch_add(1, Ordering::SeqCst);
                stop_watching.cancel();
            }
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("following failed: {e}"));
    assert_eq!(marker_seen.load(Ordering::SeqCst), 1);
    assert!(wakes.load(Ordering::SeqCst) >= 1);
    assert_eq!(hole.accepted(), 0, "the watcher connected to production");

    stop_collecting.cancel();
    let tally = guarded("collector stops", collecting)
        .await
        .expect("collector task");
    assert!(tally.published >= 2, "{tally:?}");
    assert_eq!(tally.failed_rounds, 0, "{tally:?}");

    // The past travels once: a fetch that names the component as held leaves it out and
    // brings the same present.
    let first = guarded("a first fetch", watcher_store.live_since(0, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.len(), 1);
    assert!(!first[0].component.history.is_empty(), "{:?}", first[0]);
    let held = ["redis/cache".to_string()];
    let again = guarded(
        "a fetch of a held component",
        watcher_store.live_since(0, &held),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(again[0].component.history.is_empty(), "{:?}", again[0]);
    assert!(again[0].component.breakdown.is_empty());
    assert_eq!(again[0].component.reading, first[0].component.reading);
    assert_eq!(again[0].component.status, first[0].component.status);

    // Ids only on the channel, each far below Postgres's limit; the rows hold no error text
    // from production beyond the placeholder.
    let c = pg.client().await;
    let row = c
        .query_one(
            "SELECT count(*)::int8 AS n, max(length(component::text))::int8 AS longest FROM mastop_live_components",
            &[],
        )
        .await
        .expect("count rows");
    assert_eq!(row.get::<_, i64>("n"), 1);
    eprintln!(
        "one redis component: {} bytes per publication, {} publications",
        row.get::<_, i64>("longest"),
        tally.published
    );

    // Every publication was announced once, with the component's id and nothing else.
    for _ in 0..tally.published {
        let n = guarded("a notification", heard.notices.recv())
            .await
            .expect("still listening");
        assert_eq!(n.channel(), CHANNEL);
        assert_eq!(n.payload(), "redis/cache");
    }
    assert!(
        heard.notices.try_recv().is_err(),
        "more notifications than publications"
    );
    let beat = collector_store
        .collector_beat()
        .await
        .expect("beat")
        .expect("a beat");
    assert_eq!(beat.host, "collector-test");
}
