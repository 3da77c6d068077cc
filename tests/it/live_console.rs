//! The full console in the live room: fed from a real PostgreSQL ops store it draws as a
//! directly polling one, a watching `mastop` opens no connection to production and
//! refuses actions, the header shows who is in the room and a silent collector, the side
//! strip shows actions as the audit records them, and the documented grants hold.

use crate::pty;
use crate::support;

use std::time::{Duration, SystemTime};

use mastop::actions::audit::{AuditRecord, Phase, new_id};
use mastop::actions::store::OpsStore;
use mastop::actions::{GuardDecision, Outcome};
use mastop::live::LiveComponent;
use mastop::live::room::{Joining, RoomEvent, Timing, join};
use mastop::live::watch::Follower;
use mastop::model::Fleet;
use mastop::store::PgStore;
use mastop::store::leadership::{Attempt, CollectorId, Seat};
use mastop::store::room::Presence;
use mastop::tui::app::App;
use mastop::tui::command::Command;
use mastop::tui::keymap::Keymap;
use mastop::tui::room::Room;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::{BlackHole, Postgres};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::live::{connect_as, direct_fleet, epoch, guarded, render, store};

fn app(fleet: Fleet) -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    App::new(fleet, keymap, theme, epoch())
}

fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

async fn store_as(pg: &Postgres, user: &str) -> Result<PgStore, String> {
    connect_as(pg, user, Duration::from_secs(10)).await
}

/// A seat holding the lead, as the leading collector has.
pub(crate) async fn leading<'a>(store: &'a PgStore, host: &str) -> Seat<'a> {
    let me = CollectorId {
        host: host.into(),
        pid: 1,
    };
    let mut seat = guarded("seat", store.seat(me, Duration::from_secs(10)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(guarded("lead", seat.try_lead()).await, Ok(Attempt::Leads));
    seat
}

/// Publishes `fleet` as the collector does, every component once.
async fn publish(seat: &mut Seat<'_>, fleet: &Fleet) -> Result<usize, String> {
    let batch: Vec<(i32, LiveComponent)> = fleet
        .components()
        .iter()
        .enumerate()
        .map(|(i, c)| (i as i32, LiveComponent::of(c)))
        .collect();
    guarded("publish", seat.publish_live(&batch))
        .await
        .map_err(|e| e.to_string())
}

fn presence(console: &str, who: &str, role: &str) -> Presence {
    Presence {
        console_id: console.into(),
        who: who.into(),
        role: role.into(),
        host: "laptop".into(),
        view: "overview".into(),
    }
}

fn audit(action_id: &str, phase: Phase) -> AuditRecord {
    AuditRecord {
        id: new_id(),
        action_id: action_id.into(),
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        phase,
        operator: "alex".into(),
        tailscale_login: None,
        console_host: "laptop".into(),
        console_id: "console-alex".into(),
        role: "oncall".into(),
        kind: "postgres.cancel".into(),
        title: "Cancel".into(),
        target: "pid 48213".into(),
        target_key: "postgres/primary/48213".into(),
        risk: "low".into(),
        operations: vec!["SELECT pg_cancel_backend(48213)".into()],
        guards: vec![GuardDecision {
            guard: "role".into(),
            passed: true,
            detail: "oncall".into(),
        }],
        outcome: (phase == Phase::Outcome).then_some(Outcome::Ok),
        duration_ms: None,
        error: None,
        result: None,
        runbook: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_fed_from_the_store_draws_as_the_direct_one() {
    let pg = Postgres::start();
    let store = store(&pg).await;
    let direct = direct_fleet();
    let n = publish(&mut leading(&store, "collector-test").await, &direct)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, direct.components().len());
    let c = pg.client().await;
    let row = c
        .query_one(
            "SELECT sum(length(component::text))::int8 AS bytes FROM mastop_live_components",
            &[],
        )
        .await
        .expect("measure");
    eprintln!(
        "demo fleet: {n} components, {} bytes of stored JSON for one full publication",
        row.get::<_, i64>("bytes")
    );

    // The event loop's path: the follower's changes applied to an empty console.
    let mut follower = Follower::default();
    let changes = guarded("fetch", follower.fetch(&store))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changes.len(), n);
    let mut watching = app(Fleet::new(Vec::new(), Default::default()));
    watching.room_event(RoomEvent::Changes(changes));
    assert!(
        guarded("fetch again", follower.fetch(&store))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty(),
        "nothing new after a full catch-up"
    );

    for (w, h) in [(120, 40), (80, 24)] {
        assert_eq!(
            draw(&watching, w, h),
            render(direct.clone(), &[], w, h),
            "overview at {w}x{h}"
        );
        let fed = watching.fleet.clone();
        for i in 0..n {
            let mut keys = vec![Command::Top];
            keys.extend(std::iter::repeat_n(Command::Down, i));
            keys.push(Command::Select);
            assert_eq!(
                render(fed.clone(), &keys, w, h),
                render(direct.clone(), &keys, w, h),
                "detail of row {i} at {w}x{h}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watching_console_opens_no_connection_to_production_and_refuses_actions() {
    let pg = Postgres::start();
    let store = store(&pg).await;
    let direct = direct_fleet();
    let mut seat = leading(&store, "collector-test").await;
    publish(&mut seat, &direct)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let now = SystemTime::now();
    guarded("beat", seat.beat(now, now, Duration::from_secs(60)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Production, as a mistaken watcher config names it, answers nothing: one connection
    // there would show.
    let hole = BlackHole::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("watch.toml");
    std::fs::write(
        &config,
        format!(
            "role = \"oncall\"\n[ops_store]\nurl = \"{}\"\n[[redis]]\nname = \"cache\"\nurl = \"redis://{}/0\"\n[[postgres]]\nname = \"main\"\nurl = \"postgres://mastodon@{}/mastodon\"\n",
            pg.url(),
            hole.addr(),
            hole.addr()
        ),
    )
    .expect("write config");
    // A watcher handed a config that reaches production refuses before connecting anything.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args(["--config", &config.to_string_lossy(), "watch"])
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .output()
        .expect("run mastop watch");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("holds no production credentials")
            && said.contains("[[postgres]] main")
            && said.contains("[[redis]] cache"),
        "{said}"
    );
    assert_eq!(
        hole.accepted(),
        0,
        "the refused watcher connected to production"
    );
    // The watcher's own config: the store and nothing else.
    std::fs::write(
        &config,
        format!("role = \"oncall\"\n[ops_store]\nurl = \"{}\"\n", pg.url()),
    )
    .expect("write config");
    let config = config.to_string_lossy().to_string();
    let first = direct.components()[0].meta.id.to_string();
    let mut console = tokio::task::block_in_place(|| {
        let console = pty::Console::start(&["--config", &config, "watch"], 140, 40);
        console.wait_for("the published fleet and the room", |s| {
            s.contains("WATCHING") && s.contains(&first) && s.contains("1 in room")
        });
        console
    });
    // The watcher announced itself in the store.
    let c = pg.client().await;
    let row = c
        .query_one(
            "SELECT count(*)::int8 AS n, min(role) AS role FROM mastop_presence",
            &[],
        )
        .await
        .expect("presence");
    assert_eq!(row.get::<_, i64>("n"), 1);
    assert_eq!(row.get::<_, String>("role"), "oncall");

    // A guarded write from the palette is refused, and says why.
    tokio::task::block_in_place(|| {
        console.send(b":freeze incident\r");
        console.wait_for_text("actions are disabled here");
    });

    // An on-call console polling its own (unreachable) production joins the room: the
    // watcher sees it marked on-call at its next heartbeat.
    let oncall_hole = BlackHole::start();
    let oncall_config = dir.path().join("oncall.toml");
    std::fs::write(
        &oncall_config,
        format!(
            "role = \"oncall\"\n[ops_store]\nurl = \"{}\"\n[[redis]]\nname = \"cache\"\nurl = \"redis://{}/0\"\n",
            pg.url(),
            oncall_hole.addr()
        ),
    )
    .expect("write config");
    let oncall_config = oncall_config.to_string_lossy().to_string();
    let mut oncall = tokio::task::block_in_place(|| {
        let oncall = pty::Console::start(&["--config", &oncall_config], 140, 40);
        oncall.wait_for_text("ON-CALL");
        console.wait_for("two in the room", |s| {
            s.contains("2 in room") && s.matches("(on-call)").count() == 2
        });
        oncall
    });
    // What one console does, every console sees as the audit records it.
    let action = new_id();
    guarded("outcome", store.record(&audit(&action, Phase::Outcome)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::task::block_in_place(|| {
        for screen in [&console, &oncall] {
            screen.wait_for_text("alex on-call: cancel pid 48213 → ok");
        }
        for screen in [&mut console, &mut oncall] {
            screen.send(b"q");
            assert!(screen.wait_exit(), "a console did not quit");
        }
    });
    assert_eq!(
        hole.accepted(),
        0,
        "the watching console connected to production"
    );
    let frozen = c
        .query_one("SELECT count(*)::int8 AS n FROM mastop_freeze", &[])
        .await
        .expect("freeze");
    assert_eq!(frozen.get::<_, i64>("n"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_comes_and_goes_and_actions_stream_into_the_strip() {
    let pg = Postgres::start();
    let alex = store(&pg).await;
    let bob = store(&pg).await;
    guarded(
        "alex",
        alex.heartbeat(&presence("c-alex", "alex", "oncall")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    guarded("bob", bob.heartbeat(&presence("c-bob", "bob", "shadow")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let window = Timing::default().presence_window;
    let names = |p: Vec<Presence>| p.into_iter().map(|p| p.who).collect::<Vec<_>>();
    let present = guarded("present", alex.present(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(present.clone()), ["alex", "bob"]);

    let mut console = app(direct_fleet());
    console.room = Some(Room::default());
    console.room_event(RoomEvent::Present(present));
    let screen = draw(&console, 140, 30);
    assert!(
        screen
            .lines()
            .next()
            .unwrap_or("")
            .contains("2 in room: alex (on-call), bob"),
        "{screen}"
    );

    // Bob's console stops beating: after the window he is gone.
    let c = pg.client().await;
    c.execute(
        "UPDATE mastop_presence SET beat_at = now() - interval '31 seconds' WHERE console_id = 'c-bob'",
        &[],
    )
    .await
    .expect("age bob's row");
    let present = guarded("present", alex.present(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(present.clone()), ["alex"]);
    console.room_event(RoomEvent::Present(present));

    // A console gone for over an hour leaves no row behind once another beats; a name of
    // any length is cut when read.
    c.execute(
        "UPDATE mastop_presence SET beat_at = now() - interval '2 hours' WHERE console_id = 'c-bob'",
        &[],
    )
    .await
    .expect("age bob's row further");
    guarded(
        "a long name",
        alex.heartbeat(&presence("c-alex", &"a".repeat(10_000), "oncall")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let rows = c
        .query_one("SELECT count(*)::int8 AS n FROM mastop_presence", &[])
        .await
        .expect("count presence");
    assert_eq!(rows.get::<_, i64>("n"), 1, "bob's old row was not removed");
    let present = guarded("present", alex.present(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(present[0].who.chars().count(), 64);
    guarded(
        "alex",
        alex.heartbeat(&presence("c-alex", "alex", "oncall")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let screen = draw(&console, 140, 30);
    assert!(
        screen
            .lines()
            .next()
            .unwrap_or("")
            .contains("1 in room: alex (on-call) "),
        "{screen}"
    );

    // A console in the room hears an action the moment it is recorded.
    let joined = std::sync::Arc::new(store(&pg).await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let (_view_tx, view_rx) = tokio::sync::watch::channel("overview".to_string());
    let task = tokio::spawn(join(
        Joining {
            store: mastop::live::room::Store::Connected(joined),
            me: presence("c-carol", "carol", "shadow"),
            follow_fleet: false,
            timing: Timing::default(),
        },
        view_rx,
        cancel.clone(),
        move |event| tx.send(event).is_ok(),
    ));
    // The first heartbeat: carol sees herself and alex.
    let present = next("presence", &mut rx, |e| match e {
        RoomEvent::Present(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(names(present), ["alex", "carol"]);
    let action = new_id();
    guarded("intent", alex.record(&audit(&action, Phase::Intent)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    guarded("outcome", alex.record(&audit(&action, Phase::Outcome)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut seen = 0;
    while seen < 2 {
        let records = next("the action stream", &mut rx, |e| match e {
            RoomEvent::Actions(records) => Some(records),
            _ => None,
        })
        .await;
        seen += records.len();
        console.room_event(RoomEvent::Actions(records));
    }
    // A record numbered before those already seen (its transaction committed last) is
    // still shown.
    let late = audit(&new_id(), Phase::Outcome);
    let json = serde_json::to_string(&late).expect("encode");
    c.execute(
        "INSERT INTO mastop_audit (id, action_id, time, phase, operator, console_host, \
         console_id, role, kind, target, target_key, risk, record, seq) \
         VALUES ($1, $2, now(), 'outcome', 'alex', 'laptop', 'c', 'oncall', 'k', 't', 'k', \
         'low', $3::text::jsonb, 0)",
        &[&late.id, &late.action_id, &json],
    )
    .await
    .expect("insert a late record");
    let records = next("the late record", &mut rx, |e| match e {
        RoomEvent::Actions(records) => Some(records),
        _ => None,
    })
    .await;
    assert_eq!(records.len(), 1, "only the unseen record");
    assert_eq!(records[0].id, late.id);
    console.room_event(RoomEvent::Actions(records));
    cancel.cancel();
    guarded("room task stops", task).await.expect("room task");
    let room = console.room.as_ref().expect("room");
    assert_eq!(room.actions.len(), 2, "{:?}", room.actions);
    let screen = draw(&console, 140, 30);
    assert!(
        screen.contains("alex on-call: cancel pid 48213 → ok"),
        "{screen}"
    );
    assert!(screen.contains("actions in the room"), "{screen}");
}

/// The next event of the room task that `pick` takes, skipping the others; trouble fails.
async fn next<T>(
    what: &str,
    rx: &mut mpsc::UnboundedReceiver<RoomEvent>,
    pick: impl Fn(RoomEvent) -> Option<T>,
) -> T {
    guarded(what, async {
        loop {
            match rx.recv().await {
                None => panic!("the room task stopped"),
                Some(RoomEvent::Trouble(e)) => panic!("{e}"),
                Some(event) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
            }
        }
    })
    .await
}

async fn read(store: &PgStore) -> Option<mastop::store::room::CollectorState> {
    guarded("collector", store.collector_state())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_newer_collector_shows_in_the_header() {
    let pg = Postgres::start();
    let store = store(&pg).await;
    let mut console = app(direct_fleet());
    console.room = Some(Room::watching());
    let state = read(&store).await;
    assert!(state.is_none());
    console.room_event(RoomEvent::Collector(state));
    assert!(draw(&console, 140, 30).contains("no collector has published"));

    let now = SystemTime::now();
    guarded(
        "beat",
        leading(&store, "collector-test")
            .await
            .beat(now, now, Duration::from_secs(2)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    console.room_event(RoomEvent::Collector(read(&store).await));
    let header = |console: &App| {
        draw(console, 140, 30)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    let fresh = header(&console);
    assert!(
        !fresh.contains("silent") && !fresh.contains("newer"),
        "{fresh}"
    );

    // Its last beat a minute ago, by the store's clock: twenty cadences of silence.
    let c = pg.client().await;
    c.execute(
        "UPDATE mastop_live_collector SET beat_at = now() - interval '60 seconds'",
        &[],
    )
    .await
    .expect("age the collector");
    console.room_event(RoomEvent::Collector(read(&store).await));
    let silent = header(&console);
    assert!(silent.contains("collector silent for 60 s"), "{silent}");

    c.execute(
        "UPDATE mastop_live_collector SET beat_at = now(), format = format + 1",
        &[],
    )
    .await
    .expect("a newer collector");
    console.room_event(RoomEvent::Collector(read(&store).await));
    let newer = header(&console);
    assert!(
        newer.contains("collector is newer") && !newer.contains("silent"),
        "{newer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grants_give_each_role_only_its_part() {
    let pg = Postgres::start();
    // The owner creates the schema, then applies the documented grants.
    let owner = store(&pg).await;
    let mut owner_seat = leading(&owner, "owner").await;
    publish(&mut owner_seat, &direct_fleet())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    guarded("the owner resigns", owner_seat.resign())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c = pg.client().await;
    c.batch_execute(mastop::store::GRANTS)
        .await
        .unwrap_or_else(|e| panic!("the grants do not apply: {e}"));
    // Applying them twice (after an upgrade) is harmless.
    c.batch_execute(mastop::store::GRANTS)
        .await
        .unwrap_or_else(|e| panic!("the grants do not apply twice: {e}"));
    c.batch_execute(
        "CREATE ROLE collector_1 LOGIN IN ROLE mastop_collector; \
         CREATE ROLE alex LOGIN IN ROLE mastop_oncall; \
         CREATE ROLE sam LOGIN IN ROLE mastop_watcher; \
         CREATE ROLE kim LOGIN IN ROLE mastop_watcher;",
    )
    .await
    .expect("create logins");
    let connect = |user: &'static str| {
        let pg = &pg;
        async move {
            store_as(pg, user)
                .await
                .unwrap_or_else(|e| panic!("{user} cannot connect: {e}"))
        }
    };
    let collector = connect("collector_1").await;
    let oncall = connect("alex").await;
    let sam = connect("sam").await;
    let kim = connect("kim").await;
    let refused = |what: &str, result: Result<(), String>| match result {
        Ok(()) => panic!("{what} was allowed"),
        Err(e) => assert!(
            e.contains("permission denied") || e.contains("row-level security"),
            "{what}: {e}"
        ),
    };
    let fleet = direct_fleet();
    let one = [(0, LiveComponent::of(&fleet.components()[0]))];

    // The watcher reads the room and the audit, and writes its own presence only.
    let rows = guarded("watcher reads", sam.live_since(0, &[]))
        .await
        .unwrap_or_else(|e| panic!("the watcher cannot read the live fleet: {e}"));
    assert_eq!(rows.len(), fleet.components().len());
    guarded("watcher reads audit", sam.audit_after(i64::MIN, 20))
        .await
        .unwrap_or_else(|e| panic!("the watcher cannot read the audit: {e}"));
    guarded(
        "sam beats",
        sam.heartbeat(&presence("c-sam", "sam", "shadow")),
    )
    .await
    .unwrap_or_else(|e| panic!("the watcher cannot write its presence: {e}"));
    guarded(
        "kim beats",
        kim.heartbeat(&presence("c-kim", "kim", "shadow")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    guarded(
        "sam beats again",
        sam.heartbeat(&presence("c-sam", "sam", "shadow")),
    )
    .await
    .unwrap_or_else(|e| panic!("the watcher cannot refresh its presence: {e}"));
    let present = guarded("present", sam.present(Duration::from_secs(30)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(present.len(), 2, "{present:?}");
    refused(
        "a watcher overwriting another's presence",
        guarded(
            "sam as kim",
            sam.heartbeat(&presence("c-kim", "sam", "oncall")),
        )
        .await,
    );
    let as_sam = pg.client_as("sam").await;
    let touched = as_sam
        .execute(
            "UPDATE mastop_presence SET view = 'x' WHERE console_id = 'c-kim'",
            &[],
        )
        .await
        .expect("an update that matches nothing visible to write");
    assert_eq!(touched, 0, "the watcher changed kim's row");
    let deleted = as_sam
        .execute(
            "DELETE FROM mastop_presence WHERE console_id = 'c-kim'",
            &[],
        )
        .await
        .expect("a delete that matches nothing visible to write");
    assert_eq!(deleted, 0, "the watcher deleted kim's row");
    let forged = as_sam
        .execute(
            "INSERT INTO mastop_presence (console_id, who, role, host, view, beat_at, db_user) \
             VALUES ('c-forged', 'kim', 'oncall', 'h', 'v', now(), 'kim')",
            &[],
        )
        .await;
    assert!(forged.is_err(), "the watcher wrote a row in kim's name");
    let seat_of = |store| async move {
        guarded(
            "seat",
            PgStore::seat(
                store,
                CollectorId {
                    host: "h".into(),
                    pid: 1,
                },
                Duration::from_secs(10),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut sam_seat = seat_of(&sam).await;
    refused(
        "a watcher trying for the lead",
        guarded("sam leads", sam_seat.try_lead()).await.map(drop),
    );
    refused(
        "a watcher publishing",
        guarded("sam publishes", sam_seat.publish_live(&one))
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    refused(
        "a watcher auditing",
        guarded("sam audits", sam.record(&audit(&new_id(), Phase::Intent))).await,
    );
    // Nor can a watcher or on-call take the lead's keys by hand, in any of the two-key
    // forms, and so keep every collector standing by.
    for login in ["sam", "alex"] {
        let raw = pg.client_as(login).await;
        for function in [
            "pg_try_advisory_lock",
            "pg_advisory_lock",
            "pg_try_advisory_lock_shared",
            "pg_advisory_xact_lock",
        ] {
            let taken = raw
                .simple_query(&format!("SELECT {function}(1835103092, 1818850917)"))
                .await
                .map(drop)
                .map_err(|e| {
                    e.as_db_error()
                        .map_or_else(|| e.to_string(), |d| d.message().to_string())
                });
            refused(&format!("{login} calling {function}"), taken);
        }
    }

    // The collector leads, writes the room, never the audit.
    let mut collector_seat = seat_of(&collector).await;
    assert_eq!(
        guarded("collector leads", collector_seat.try_lead()).await,
        Ok(Attempt::Leads)
    );
    guarded("collector publishes", collector_seat.publish_live(&one))
        .await
        .unwrap_or_else(|e| panic!("the collector cannot publish: {e}"));
    let now = SystemTime::now();
    guarded(
        "collector beats",
        collector_seat.beat(now, now, Duration::from_secs(2)),
    )
    .await
    .unwrap_or_else(|e| panic!("the collector cannot beat: {e}"));
    refused(
        "the collector auditing",
        guarded(
            "collector audits",
            collector.record(&audit(&new_id(), Phase::Intent)),
        )
        .await,
    );

    // On-call reads the room and writes the audit, not the room.
    guarded("on-call reads", oncall.live_since(0, &[]))
        .await
        .unwrap_or_else(|e| panic!("on-call cannot read the live fleet: {e}"));
    guarded(
        "on-call audits",
        oncall.record(&audit(&new_id(), Phase::Intent)),
    )
    .await
    .unwrap_or_else(|e| panic!("on-call cannot audit: {e}"));
    refused(
        "on-call publishing",
        guarded(
            "on-call publishes",
            seat_of(&oncall).await.publish_live(&one),
        )
        .await
        .map(drop)
        .map_err(|e| e.to_string()),
    );
    let seen = guarded("watcher sees the audit", sam.audit_after(i64::MIN, 20))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.len(), 1);
}
