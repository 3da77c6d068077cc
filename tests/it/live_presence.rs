//! Who is on-call in the room comes from the database login, not from what a console
//! says: under the documented grants a watcher that claims to be on-call is listed, and
//! drawn in every header, as a watcher.

use crate::support;

use std::time::Duration;

use mastop::live::room::RoomEvent;
use mastop::store::PgStore;
use mastop::store::room::Presence;
use mastop::tui::app::App;
use mastop::tui::keymap::Keymap;
use mastop::tui::room::Room;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::Postgres;

use super::live::{connect_as, direct_fleet, epoch, guarded, store};

async fn store_as(pg: &Postgres, user: &str) -> PgStore {
    connect_as(pg, user, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{user} cannot connect: {e}"))
}

fn claiming(console: &str, who: &str, role: &str) -> Presence {
    Presence {
        console_id: console.into(),
        who: who.into(),
        role: role.into(),
        host: "laptop".into(),
        view: "overview".into(),
    }
}

async fn beat(store: &PgStore, me: &Presence) {
    guarded("heartbeat", store.heartbeat(me))
        .await
        .unwrap_or_else(|e| panic!("{} cannot beat: {e}", me.who));
}

fn roles(present: &[Presence]) -> Vec<(String, String)> {
    present
        .iter()
        .map(|p| (p.who.clone(), p.role.clone()))
        .collect()
}

fn header(present: Vec<Presence>) -> String {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(direct_fleet(), keymap, theme, epoch());
    app.room = Some(Room::default());
    app.room_event(RoomEvent::Present(present));
    let mut terminal = Terminal::new(TestBackend::new(140, 30)).expect("test terminal");
    terminal.draw(|f| views::draw(f, &app)).expect("draw");
    terminal
        .backend()
        .to_string()
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_call_in_the_room_is_what_the_login_may_do_not_what_a_console_claims() {
    let pg = Postgres::start();
    // The owner creates the schema, then applies the documented grants.
    let owner = store(&pg).await;
    let c = pg.client().await;
    c.batch_execute(mastop::store::GRANTS)
        .await
        .unwrap_or_else(|e| panic!("the grants do not apply: {e}"));
    c.batch_execute(
        "CREATE ROLE alex LOGIN IN ROLE mastop_oncall; \
         CREATE ROLE sam LOGIN IN ROLE mastop_watcher; \
         CREATE ROLE collector_1 LOGIN IN ROLE mastop_collector;",
    )
    .await
    .expect("create logins");
    let alex = store_as(&pg, "alex").await;
    let sam = store_as(&pg, "sam").await;
    let collector = store_as(&pg, "collector_1").await;

    // Everyone claims to be on-call; only the on-call login is.
    beat(&alex, &claiming("c-alex", "alex", "oncall")).await;
    beat(&sam, &claiming("c-sam", "sam", "oncall")).await;
    let window = Duration::from_secs(30);
    for reader in [&alex, &sam, &owner] {
        let present = guarded("present", reader.present(window))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            roles(&present),
            [
                ("alex".into(), "oncall".into()),
                ("sam".into(), "shadow".into())
            ]
        );
    }
    // What the watcher wrote is kept as its claim; only the reading is derived.
    let claimed: String = c
        .query_one(
            "SELECT role FROM mastop_presence WHERE console_id = 'c-sam'",
            &[],
        )
        .await
        .expect("read sam's row")
        .get("role");
    assert_eq!(claimed, "oncall");

    // The header everyone sees names one on-call, and not the watcher.
    let present = guarded("present", sam.present(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let line = header(present.clone());
    assert!(line.contains("2 in room: alex (on-call), sam "), "{line}");
    assert!(!line.contains("sam (on-call)"), "{line}");

    // An on-call login that says it only watches is shown watching: the claim can lower
    // the role, never raise it.
    beat(&alex, &claiming("c-alex", "alex", "shadow")).await;
    let present = guarded("present", sam.present(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        roles(&present),
        [
            ("alex".into(), "shadow".into()),
            ("sam".into(), "shadow".into())
        ]
    );

    // The collector's login writes no audit either: its claim is not honoured. (It may not
    // write presence at all under the grants.)
    let refused = guarded(
        "collector beats",
        collector.heartbeat(&claiming("c-col", "collector", "oncall")),
    )
    .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("permission denied")),
        "{refused:?}"
    );

    // A row a watcher wrote cannot be made to carry an on-call login: the store fills in
    // the login and row-level security refuses any other.
    let as_sam = pg.client_as("sam").await;
    let moved = as_sam
        .execute(
            "UPDATE mastop_presence SET db_user = 'alex', role = 'oncall' WHERE console_id = 'c-sam'",
            &[],
        )
        .await;
    assert!(
        moved
            .as_ref()
            .is_err_and(|e| format!("{e:?}").contains("row-level security")),
        "{moved:?}"
    );

    // Without the grants (one owner login for everyone, as a small team may run the
    // store) there is nothing to tell logins apart, and the claim stands.
    beat(&owner, &claiming("c-kim", "kim", "oncall")).await;
    let present = guarded("present", owner.present(window))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(present[0].who, "kim");
    assert_eq!(present[0].role, "oncall");
}
