//! The live room's faults: two `mastop collect` processes against a real Redis and a real
//! PostgreSQL ops store, logged in under the documented grants. One leads; the other takes
//! over when the leader is killed or hangs, and a resumed leader is refused by the store;
//! a room with no collector left turns stale; a restarted store is caught up with.
//! Everything is asserted by states and counts (the store's rows, the watchers' fleet, the
//! collectors' log lines); the only clock is the hang guard.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mastop::live::LiveComponent;
use mastop::live::room::{Joining, RoomEvent, Store, Timing, join};
use mastop::model::Fleet;
use mastop::store::PgStore;
use mastop::store::leadership::{Attempt, CollectorId, EndFailure, Refusal};
use mastop::store::room::Presence;
use mastop::tui::app::App;
use mastop::tui::keymap::Keymap;
use mastop::tui::room::Room;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::{Postgres, Redis};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::live::{connect_as, direct_fleet, guarded, store};

/// The login every collector shares (see grants.sql: a standby may end only sessions of
/// its own login), and a watcher's.
const COLLECTOR: &str = "collector";
const WATCHER: &str = "sam";

/// The ops store with the documented grants applied and the two logins created.
async fn granted_store(pg: &Postgres) -> PgStore {
    let owner = store(pg).await;
    let c = pg.client().await;
    c.batch_execute(mastop::store::GRANTS)
        .await
        .unwrap_or_else(|e| panic!("the grants do not apply: {e}"));
    c.batch_execute(&format!(
        "CREATE ROLE {COLLECTOR} LOGIN IN ROLE mastop_collector; \
         CREATE ROLE collector_2 LOGIN IN ROLE mastop_collector; \
         CREATE ROLE {WATCHER} LOGIN IN ROLE mastop_watcher;"
    ))
    .await
    .expect("create logins");
    owner
}

async fn store_as(pg: &Postgres, user: &str) -> PgStore {
    connect_as(pg, user, Duration::from_secs(2))
        .await
        .unwrap_or_else(|e| panic!("{user} cannot connect: {e}"))
}

async fn seq_of(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT max(seq) AS seq FROM mastop_live_components", &[])
        .await
        .expect("read seq")
        .get::<_, i64>("seq")
}

fn who(host: &str, pid: i32) -> CollectorId {
    CollectorId {
        host: host.into(),
        pid,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_is_fenced_and_a_standby_ends_a_silent_leader_under_the_collector_grants() {
    let pg = Postgres::start();
    let _owner = granted_store(&pg).await;
    let (store_a, store_b, store_c) = (
        store_as(&pg, COLLECTOR).await,
        store_as(&pg, COLLECTOR).await,
        store_as(&pg, "collector_2").await,
    );
    let timeout = Duration::from_secs(10);
    let seat = |store, me| async move {
        guarded("seat", PgStore::seat(store, me, timeout))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let fleet = direct_fleet();
    let one = [(0, LiveComponent::of(&fleet.components()[0]))];
    let now = SystemTime::now();
    let cadence = Duration::from_secs(2);

    let mut a = seat(&store_a, who("a", 1)).await;
    assert_eq!(guarded("a leads", a.try_lead()).await, Ok(Attempt::Leads));
    assert_eq!(
        guarded("a beats", a.beat(now, now, cadence)).await,
        Ok(None)
    );
    assert_eq!(guarded("a publishes", a.publish_live(&one)).await, Ok(1));

    // A second collector stands by: it sees who leads, and the leader sees it.
    let mut b = seat(&store_b, who("b", 2)).await;
    match guarded("b tries", b.try_lead()).await {
        Ok(Attempt::StandsBy(Some(beat))) => {
            assert_eq!(beat.who, who("a", 1));
            assert!(beat.holds_lock, "{beat:?}");
        }
        other => panic!("b should stand by behind a: {other:?}"),
    }
    assert_eq!(
        guarded("a beats", a.beat(now, now, cadence)).await,
        Ok(Some(who("b", 2)))
    );
    // The store refuses a standby's publication and beat.
    assert_eq!(
        guarded("b publishes", b.publish_live(&one)).await,
        Err(Refusal::NotLeading)
    );
    assert_eq!(
        guarded("b beats", b.beat(now, now, cadence)).await,
        Err(Refusal::NotLeading)
    );
    // A fresh leader is never ended.
    assert_eq!(
        guarded("b ends a fresh a", b.end_hung_leader()).await,
        Ok(None)
    );

    // The leader goes silent (its beat an hour old by the store's clock).
    let c = pg.client().await;
    c.execute(
        "UPDATE mastop_live_collector SET beat_at = now() - interval '1 hour'",
        &[],
    )
    .await
    .expect("age the beat");
    // A collector under another login may not end the leader's session.
    let mut other = seat(&store_c, who("c", 3)).await;
    assert!(matches!(
        guarded("c tries", other.try_lead()).await,
        Ok(Attempt::StandsBy(Some(_)))
    ));
    match guarded("c ends a", other.end_hung_leader()).await {
        Err(EndFailure::NotPermitted(e)) => assert!(e.contains("SQLSTATE 42501"), "{e}"),
        other => panic!("another login ended the leader's session: {other:?}"),
    }
    assert!(a.is_open());
    // The standby under the same login ends it and takes the lead.
    assert_eq!(
        guarded("b ends a", b.end_hung_leader()).await,
        Ok(Some(who("a", 1)))
    );
    assert_eq!(guarded("b leads", b.try_lead()).await, Ok(Attempt::Leads));
    let before = seq_of(&c).await;

    // The old leader, resumed, finds its session gone; reconnected, the store refuses it.
    assert!(matches!(
        guarded("a publishes again", a.publish_live(&one)).await,
        Err(Refusal::Store(_))
    ));
    assert!(!a.is_open(), "a's session outlived its end");
    let mut a = seat(&store_a, who("a", 1)).await;
    assert_eq!(
        guarded("a publishes on a new session", a.publish_live(&one)).await,
        Err(Refusal::NotLeading)
    );
    assert_eq!(
        guarded("a beats on a new session", a.beat(now, now, cadence)).await,
        Err(Refusal::NotLeading)
    );
    assert_eq!(seq_of(&c).await, before, "a refused publication was stored");
    // Until b beats, its lock is not the one the stale beat names: nobody ends it.
    match guarded("a tries", a.try_lead()).await {
        Ok(Attempt::StandsBy(Some(beat))) => assert!(!beat.holds_lock, "{beat:?}"),
        other => panic!("a should stand by: {other:?}"),
    }
    assert_eq!(guarded("a ends b", a.end_hung_leader()).await, Ok(None));
    assert_eq!(
        guarded("b beats", b.beat(now, now, cadence)).await,
        Ok(Some(who("a", 1)))
    );
    assert_eq!(guarded("b publishes", b.publish_live(&one)).await, Ok(1));
    assert!(seq_of(&c).await > before);
    // A leader that resigns frees the lead for the next try at once.
    guarded("b resigns", b.resign())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(guarded("a leads", a.try_lead()).await, Ok(Attempt::Leads));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_itself_ends_a_silent_leaders_session_and_frees_the_lead() {
    let pg = Postgres::start();
    let _owner = granted_store(&pg).await;
    // Different logins: the standby may not end the leader's session itself.
    let (store_a, store_c) = (
        store_as(&pg, COLLECTOR).await,
        store_as(&pg, "collector_2").await,
    );
    let timeout = Duration::from_millis(300);
    let mut a = guarded("seat a", store_a.seat(who("a", 1), timeout))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(guarded("a leads", a.try_lead()).await, Ok(Attempt::Leads));
    let mut c = guarded("seat c", store_c.seat(who("c", 3), timeout))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // a says nothing more, as a hung leader; c keeps trying, as a standby does.
    let tries = guarded("the lead to free", async {
        let mut tries = 0;
        loop {
            tries += 1;
            match c.try_lead().await {
                Ok(Attempt::Leads) => return tries,
                Ok(Attempt::StandsBy(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    assert!(tries > 1, "the lead was free at once");
    assert!(
        guarded("a publishes", a.publish_live(&[])).await.is_err(),
        "the silent leader's session outlived the store's idle cut"
    );
    assert!(!a.is_open());
}

/// A `mastop collect` process and its log, read as it is written.
struct Collector {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    fn start(config: &std::path::Path, home: &std::path::Path) -> Collector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mastop"))
            .arg("--config")
            .arg(config)
            .arg("collect")
            .env("HOME", home)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mastop collect");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().expect("log lock").push(line);
            }
        });
        Collector { child, log }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal the collector");
    }

    /// How many log lines contain `text`.
    fn said(&self, text: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    async fn wait_to_say(&self, text: &str) {
        guarded(
            &format!("collector {} to say {text:?}", self.pid()),
            async {
                while self.said(text) == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        )
        .await;
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A production Redis, the store, and a config for collectors that beat every 250 ms and
/// hand over after a second of silence.
struct Setup {
    pg: Postgres,
    redis: Redis,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Setup {
    async fn start() -> Setup {
        let pg = Postgres::start();
        let redis = Redis::start();
        drop(granted_store(&pg).await);
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("collect.toml");
        std::fs::write(
            &config,
            format!(
                "[defaults]\ncadence = \"250ms\"\ndeadline = \"200ms\"\n\
                 [live]\nleader_timeout = \"1s\"\n\
                 [ops_store]\nurl = \"{}\"\ndeadline = \"2s\"\n\
                 [[redis]]\nname = \"cache\"\nurl = \"{}\"\n",
                pg.url_as(COLLECTOR),
                redis.url()
            ),
        )
        .expect("write config");
        Setup {
            pg,
            redis,
            dir,
            config,
        }
    }

    fn collector(&self) -> Collector {
        Collector::start(&self.config, self.dir.path())
    }

    /// Makes production's key count `n`: the change every watcher must see.
    fn keys(&self, n: usize) {
        let out = self.redis.cli(&["SET", &format!("key-{n}"), "1"]);
        assert!(out.contains("OK"), "{out}");
    }

    /// `(pid, standby pid)` of the collector row.
    async fn leader(&self) -> Option<(i32, Option<i32>)> {
        let c = self.pg.client().await;
        c.query_opt(
            "SELECT pid, CASE WHEN standby_beat_at > now() - leader_timeout_ms * interval '1 millisecond' \
             THEN standby_pid END AS standby FROM mastop_live_collector",
            &[],
        )
        .await
        .expect("read the collector row")
        .map(|row| (row.get("pid"), row.get("standby")))
    }

    /// Each stored figure's oldest point, as the store holds them.
    async fn oldest_points(&self) -> String {
        let c = self.pg.client().await;
        c.query_one(
            "SELECT coalesce(string_agg(id || ' ' || h.key || ' ' || (h.value->0)::text, '; ' \
               ORDER BY id, h.key), '') AS oldest \
             FROM mastop_live_components, jsonb_each(coalesce(past->'history', '{}')) h",
            &[],
        )
        .await
        .expect("read the oldest points")
        .get("oldest")
    }

    /// Points of history the room holds, over every component and figure.
    async fn stored_points(&self) -> i64 {
        let c = self.pg.client().await;
        c.query_one(
            "SELECT coalesce(sum(jsonb_array_length(h.value)), 0)::int8 AS n \
             FROM mastop_live_components, jsonb_each(coalesce(past->'history', '{}')) h",
            &[],
        )
        .await
        .expect("count the stored points")
        .get("n")
    }

    async fn wait_for_points(&self, at_least: i64) -> i64 {
        guarded(
            &format!("{at_least} points of history in the room"),
            async {
                loop {
                    let n = self.stored_points().await;
                    if n >= at_least {
                        return n;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        )
        .await
    }

    async fn wait_for_leader(&self, pid: i32, standby: Option<i32>) {
        guarded(&format!("{pid} to lead, {standby:?} standing by"), async {
            while self.leader().await != Some((pid, standby)) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }
}

/// A watching console's room task and the console it feeds, drawn on demand.
struct Watching {
    app: App,
    events: mpsc::UnboundedReceiver<RoomEvent>,
    troubles: usize,
    cancel: CancellationToken,
}

impl Watching {
    async fn join(pg: &Postgres) -> Watching {
        let store = Arc::new(store_as(pg, WATCHER).await);
        let (tx, events) = mpsc::unbounded_channel();
        let (_view_tx, view) = tokio::sync::watch::channel("overview".to_string());
        let cancel = CancellationToken::new();
        let joining = Joining {
            store: Store::Connected(store),
            me: Presence {
                console_id: "console-sam".into(),
                who: WATCHER.into(),
                role: "shadow".into(),
                host: "laptop".into(),
                view: "overview".into(),
            },
            follow_fleet: true,
            timing: Timing {
                heartbeat: Duration::from_millis(250),
                presence_window: Duration::from_secs(30),
                collector_every: Duration::from_millis(250),
            },
        };
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _view_tx = _view_tx;
            join(joining, view, stop, move |e| tx.send(e).is_ok()).await;
        });
        let keymap = Keymap::builtin("default").expect("default keymap");
        let theme = Theme::builtin("dark").expect("dark theme");
        let mut app = App::new(
            Fleet::new(Vec::new(), Default::default()),
            keymap,
            theme,
            SystemTime::now(),
        );
        app.room = Some(Room::watching());
        Watching {
            app,
            events,
            troubles: 0,
            cancel,
        }
    }

    /// The redis component's key count as this console holds it.
    fn keys(&self) -> Option<u64> {
        let c = self
            .app
            .fleet
            .components()
            .iter()
            .find(|c| c.meta.id.as_str() == "redis/cache")?;
        c.reading
            .as_ref()
            .map(|r| r.to_json())
            .and_then(|j| j["keyspace"][0]["keys"].as_u64())
    }

    fn header(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(200, 30)).expect("test terminal");
        terminal.draw(|f| views::draw(f, &self.app)).expect("draw");
        terminal
            .backend()
            .to_string()
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }

    /// Takes the room's events until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&Watching) -> bool) {
        guarded(what, async {
            while !done(self) {
                let Some(event) = self.events.recv().await else {
                    panic!("the room task stopped");
                };
                if matches!(event, RoomEvent::Trouble(_)) {
                    self.troubles += 1;
                }
                self.app.now = SystemTime::now();
                self.app.room_event(event);
            }
        })
        .await;
    }

    async fn sees_keys(&mut self, n: u64) {
        self.until(&format!("the watcher to see {n} keys"), |w| {
            w.keys() == Some(n)
        })
        .await;
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Waits for `a` to lead and `b` to stand by behind it, each saying so once.
async fn leader_and_standby(room: &Setup) -> (Collector, Collector) {
    let a = room.collector();
    a.wait_to_say("leading: polling and publishing the room")
        .await;
    let b = room.collector();
    b.wait_to_say("standing by: ").await;
    room.wait_for_leader(a.pid(), Some(b.pid())).await;
    a.wait_to_say("standby ready: ").await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_by_the_standby_and_watchers_keep_up() {
    let room = Setup::start().await;
    let (a, mut b) = leader_and_standby(&room).await;
    let mut watcher = Watching::join(&room.pg).await;
    room.keys(1);
    watcher.sees_keys(1).await;
    let (leader, standby) = (
        format!("pid {} · standby ", a.pid()),
        format!("pid {} ", b.pid()),
    );
    watcher
        .until("the header to name the leader and its standby", |w| {
            let h = w.header();
            h.contains(&leader) && h.contains(&standby)
        })
        .await;

    // Past enough that a new leader starting afresh could not begin where it begins.
    room.wait_for_points(24).await;
    a.signal(Signal::SIGKILL);
    let before = room.oldest_points().await;
    b.wait_to_say("took over from").await;
    room.keys(2);
    watcher.sees_keys(2).await;
    // The new leader carries the room's past on: what it publishes starts where the old
    // leader's past started, not at the takeover.
    assert_eq!(room.oldest_points().await, before);
    room.wait_for_leader(b.pid(), None).await;
    watcher
        .until("the header to name the new leader", |w| {
            let h = w.header();
            h.contains(&format!("pid {}", b.pid())) && h.contains("no standby")
        })
        .await;
    assert!(b.running());
    // Once per change, not once per try: b stood by for many cadences.
    assert_eq!(b.said("standing by: "), 1, "{}", b.log_text());
    assert_eq!(b.said("took over from"), 1, "{}", b.log_text());

    // Stopped cleanly, a leader hands over at once: it gives the lead up and exits 0.
    let c = room.collector();
    c.wait_to_say("standing by: ").await;
    room.wait_for_leader(b.pid(), Some(c.pid())).await;
    b.signal(Signal::SIGTERM);
    c.wait_to_say("took over from").await;
    let status = guarded("b exits", async {
        loop {
            if let Ok(Some(status)) = b.child.try_wait() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(status.code(), Some(0), "{}", b.log_text());
    assert_eq!(b.said("gave up the lead"), 1, "{}", b.log_text());
    // Its silence never reached the leader timeout: nobody had to end its session.
    assert_eq!(c.said("taking over"), 0, "{}", c.log_text());
    room.keys(3);
    watcher.sees_keys(3).await;
}

/// Records which session wrote each publication, by its `application_name`
/// (`mastop-collect HOST pid PID`).
async fn audit_publications(pg: &Postgres) {
    pg.client()
        .await
        .batch_execute(
            "CREATE TABLE test_publications (n bigserial PRIMARY KEY, app text NOT NULL); \
             CREATE FUNCTION test_publication() RETURNS trigger LANGUAGE plpgsql \
               SECURITY DEFINER AS $$ BEGIN \
               INSERT INTO test_publications (app) VALUES (current_setting('application_name')); \
               RETURN NEW; END $$; \
             CREATE TRIGGER test_publication AFTER INSERT OR UPDATE ON mastop_live_components \
               FOR EACH ROW EXECUTE FUNCTION test_publication();",
        )
        .await
        .expect("audit publications");
}

/// Publications by collector `pid`, and the number of the last one.
async fn publications_by(pg: &Postgres, pid: i32) -> (i64, Option<i64>) {
    let row = pg
        .client()
        .await
        .query_one(
            "SELECT count(*) AS n, max(n) AS last FROM test_publications WHERE app LIKE $1",
            &[&format!("mastop-collect % pid {pid}")],
        )
        .await
        .expect("read the publications");
    (row.get("n"), row.get("last"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_leader_is_replaced_and_after_it_resumes_never_publishes_again() {
    let room = Setup::start().await;
    audit_publications(&room.pg).await;
    let (mut a, b) = leader_and_standby(&room).await;
    let mut watcher = Watching::join(&room.pg).await;
    room.keys(1);
    watcher.sees_keys(1).await;

    // Hung: its session (and so the lock) stays open, but its beat ages.
    a.signal(Signal::SIGSTOP);
    b.wait_to_say("took over from").await;
    room.keys(2);
    watcher.sees_keys(2).await;
    room.wait_for_leader(b.pid(), None).await;
    let (_, b_first) = publications_by(&room.pg, b.pid()).await;
    let (a_before, _) = publications_by(&room.pg, a.pid()).await;
    assert!(a_before > 0, "a published before it hung");

    a.signal(Signal::SIGCONT);
    a.wait_to_say("lost the lead").await;
    // It stands by, and the leader sees it ready.
    room.wait_for_leader(b.pid(), Some(a.pid())).await;
    room.keys(3);
    watcher.sees_keys(3).await;
    let (a_after, a_last) = publications_by(&room.pg, a.pid()).await;
    assert_eq!(a_after, a_before, "the resumed leader published");
    assert!(
        a_last < b_first,
        "a publication of a ({a_last:?}) came after b's first ({b_first:?})"
    );
    assert!(a.running(), "the resumed leader exited");
    assert_eq!(a.said("lost the lead"), 1, "{}", a.log_text());
    assert_eq!(b.said("took over from"), 1, "{}", b.log_text());
}

fn silent_seconds(header: &str) -> Option<u64> {
    let rest = header.split("collector silent for ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_standby_a_stopped_collector_turns_the_room_stale() {
    let room = Setup::start().await;
    let a = room.collector();
    a.wait_to_say("leading: polling and publishing the room")
        .await;
    a.wait_to_say("no standby").await;
    let mut watcher = Watching::join(&room.pg).await;
    room.keys(1);
    watcher.sees_keys(1).await;
    watcher
        .until("a fresh collector in the header", |w| {
            let h = w.header();
            h.contains("no standby") && !h.contains("silent")
        })
        .await;
    // A reload keeps the lead: the session holding it stays open.
    a.signal(Signal::SIGHUP);
    a.wait_to_say("config reloaded").await;
    room.keys(2);
    watcher.sees_keys(2).await;
    assert_eq!(a.said("leading"), 1, "{}", a.log_text());
    assert_eq!(a.said("lost the"), 0, "{}", a.log_text());

    a.signal(Signal::SIGSTOP);
    watcher
        .until("the header to say the collector is silent", |w| {
            silent_seconds(&w.header()).is_some()
        })
        .await;
    let first = silent_seconds(&watcher.header()).unwrap_or_default();
    // Never frozen: the silence keeps counting.
    watcher
        .until("the silence to grow", |w| {
            silent_seconds(&w.header()).is_some_and(|s| s > first)
        })
        .await;
    assert_eq!(watcher.keys(), Some(2));
    a.signal(Signal::SIGCONT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_store_restart_the_collector_republishes_and_the_watcher_catches_up() {
    let mut room = Setup::start().await;
    let a = room.collector();
    a.wait_to_say("leading: polling and publishing the room")
        .await;
    let mut watcher = Watching::join(&room.pg).await;
    room.keys(1);
    watcher.sees_keys(1).await;

    room.pg.stop();
    a.wait_to_say("lost the store session that held the lead")
        .await;
    // Production changes while the store is away.
    room.keys(2);
    room.pg.restart();
    watcher.sees_keys(2).await;
    assert!(watcher.troubles > 0, "the watcher never lost the store");
    room.wait_for_leader(a.pid(), None).await;
    assert_eq!(
        a.said("lost the store session that held the lead"),
        1,
        "{}",
        a.log_text()
    );
    // The watcher keeps following on its first room task: one more change arrives.
    room.keys(3);
    watcher.sees_keys(3).await;
}
