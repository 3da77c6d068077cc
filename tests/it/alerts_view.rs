//! The alerts view: reached by `:alerts` and by its key, firing alerts under their group,
//! silenced and inhibited ones apart, Enter opening the component an alert is about, ten
//! thousand alerts drawn, and label values full of escape sequences drawn harmless (a
//! seeded property test over generated hostile text).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};
use mastop::model::alerts::{
    Alert, AlertGroup, AlertSet, AlertState, Labels, Matcher, Silence, SilenceState,
};
use mastop::model::{ComponentId, ComponentMeta, Fleet, SourceState, SourceStatus};
use mastop::sources::alertmanager::AlertmanagerReading;
use mastop::tui::app::{App, View};
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn alert(fp: &str, labels: Labels, annotations: Labels, state: AlertState) -> Alert {
    Alert {
        fingerprint: fp.into(),
        labels,
        annotations,
        starts_at: Some(now() - Duration::from_secs(754)),
        state,
        silenced_by: if state == AlertState::Suppressed {
            vec!["5f1c".into()]
        } else {
            Vec::new()
        },
        inhibited_by: Vec::new(),
        receivers: vec!["chat".into()],
    }
}

fn fleet_with(set: AlertSet) -> Fleet {
    let meta = |kind: &'static str, name: &str| ComponentMeta {
        id: ComponentId::new(kind, name),
        kind,
        region: String::new(),
        tags: Vec::new(),
    };
    let cadence = Duration::from_secs(2);
    let mut fleet = Fleet::new(
        vec![
            (meta("host", "db-1"), SourceStatus::pending(cadence)),
            (meta("alertmanager", "main"), SourceStatus::pending(cadence)),
        ],
        Default::default(),
    );
    let status = SourceStatus {
        state: SourceState::Ok,
        last_ok: Some(now()),
        last_attempt: Some(now()),
        ..SourceStatus::pending(cadence)
    };
    let reading = AlertmanagerReading {
        server: Default::default(),
        set,
        at: now(),
        silences_error: None,
        status_error: None,
    };
    fleet.apply(
        &ComponentId::new("alertmanager", "main"),
        status,
        Some(Arc::new(reading)),
    );
    fleet
}

fn app(fleet: Fleet) -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    App::new(fleet, keymap, theme, now())
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal
}

fn screen(app: &App, width: u16, height: u16) -> String {
    render(app, width, height).backend().to_string()
}

fn press(app: &mut App, code: KeyCode) -> mastop::tui::app::Effect {
    app.handle_key(KeyEvent::from(code))
}

fn sample_set() -> AlertSet {
    let mut set = AlertSet::default();
    set.alerts.push(alert(
        "a1",
        labels(&[
            ("alertname", "DiskAlmostFull"),
            ("instance", "db-1:9100"),
            ("job", "node"),
            ("severity", "critical"),
        ]),
        labels(&[("summary", "/ on db-1 is 97% full")]),
        AlertState::Active,
    ));
    set.alerts.push(alert(
        "a2",
        labels(&[
            ("alertname", "HighLoad"),
            ("instance", "web-9:9100"),
            ("severity", "warning"),
        ]),
        labels(&[("summary", "load on web-9")]),
        AlertState::Suppressed,
    ));
    set.groups.push(AlertGroup {
        labels: labels(&[("alertname", "DiskAlmostFull")]),
        receiver: "chat".into(),
        alerts: vec![0],
    });
    set.groups.push(AlertGroup {
        labels: labels(&[("alertname", "HighLoad")]),
        receiver: "chat".into(),
        alerts: vec![1],
    });
    set.silences.push(Silence {
        id: "5f1c".into(),
        matchers: vec![Matcher::equal("instance", "web-9:9100")],
        starts_at: Some(now() - Duration::from_secs(600)),
        ends_at: Some(now() + Duration::from_secs(3_000)),
        updated_at: None,
        created_by: "mei".into(),
        comment: "reboot for kernel update".into(),
        state: SilenceState::Active,
    });
    set
}

#[test]
fn the_palette_and_the_key_open_the_alerts_view() {
    let mut app = app(fleet_with(sample_set()));
    press(&mut app, KeyCode::Char(':'));
    for c in "alerts".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Alerts);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Overview);
    press(&mut app, KeyCode::Char('0'));
    assert_eq!(app.view, View::Alerts);

    let text = screen(&app, 200, 60);
    assert!(text.contains("Firing · 1 alert · 1 group (2)"), "{text}");
    assert!(text.contains("▾ group"), "{text}");
    assert!(text.contains("alertname=DiskAlmostFull"), "{text}");
    assert!(text.contains("DiskAlmostFull"), "{text}");
    assert!(
        text.contains("host/db-1"),
        "the alert names the host it is tied to: {text}"
    );
    assert!(text.contains("12m 34s"), "since: {text}");
    assert!(text.contains("/ on db-1 is 97% full"), "{text}");
    assert!(text.contains("Silenced and inhibited"), "{text}");
    assert!(text.contains("silenced"), "{text}");
    assert!(text.contains("web-9:9100"), "{text}");
    assert!(text.contains("reboot for kernel update"), "{text}");
    assert!(text.contains("instance=\"web-9:9100\""), "{text}");

    // The heading is the first row; the alert below it opens the host.
    press(&mut app, KeyCode::Down);
    let text = screen(&app, 200, 60);
    assert!(
        text.contains("labels  alertname=\"DiskAlmostFull\""),
        "{text}"
    );
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Detail(ComponentId::new("host", "db-1")));

    // At 80x24 the focused table alone, and the others by `]`.
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Alerts);
    press(&mut app, KeyCode::Char(']'));
    let text = screen(&app, 80, 24);
    assert!(text.contains("Silenced and inhibited"), "{text}");
    assert!(!text.contains("Firing ·"), "{text}");
}

#[test]
fn without_an_alertmanager_the_view_says_what_to_configure() {
    let mut app = app(Fleet::default());
    press(&mut app, KeyCode::Char('0'));
    let text = screen(&app, 120, 40);
    assert!(text.contains("no [[alertmanager]] is configured"), "{text}");
}

#[test]
fn ten_thousand_alerts_are_drawn_a_screen_at_a_time() {
    let mut set = AlertSet::default();
    for i in 0..10_000 {
        set.alerts.push(alert(
            &format!("f{i}"),
            labels(&[
                ("alertname", &format!("Load{}", i % 5)),
                ("instance", &format!("host-{i}:9100")),
                ("severity", "warning"),
            ]),
            labels(&[("summary", &format!("load on host-{i}"))]),
            AlertState::Active,
        ));
    }
    for g in 0..5 {
        set.groups.push(AlertGroup {
            labels: labels(&[("alertname", &format!("Load{g}"))]),
            receiver: "chat".into(),
            alerts: (0..10_000).filter(|i| i % 5 == g).collect(),
        });
    }
    let mut app = app(fleet_with(set));
    press(&mut app, KeyCode::Char('0'));
    assert_eq!(app.screens.alerts.rows.firing.rows.len(), 10_005);
    let text = screen(&app, 200, 60);
    assert!(text.contains("Firing · 10000 alerts · 5 groups"), "{text}");
    press(&mut app, KeyCode::End);
    let text = screen(&app, 200, 60);
    assert!(text.contains("host-9999:9100"), "{text}");
}

/// A small seeded generator of hostile text: escape sequences of every family, C1
/// controls, bidi overrides, zero-width characters, newlines and plain words.
struct Hostile(u64);

impl Hostile {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "\u{1b}[31m",
            "\u{1b}]52;c;cHduZWQ=\u{7}",
            "\u{1b}]0;title\u{1b}\\",
            "\u{1b}P+q\u{1b}\\",
            "\u{9b}2J",
            "\u{9d}8;;http://x\u{9c}",
            "\u{202e}",
            "\u{2066}",
            "\u{200b}",
            "\r\n",
            "\t",
            "\u{7}",
            "\u{0}",
            "db-1",
            "disk",
            "ümlaut",
            " ",
        ];
        let n = 1 + self.next() % 8;
        (0..n)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

fn harmless(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200d}' | '\u{feff}'))
}

#[test]
fn hostile_label_values_never_reach_the_screen_raw() {
    let mut hostile = Hostile(0x5eed_a1e7);
    for round in 0..40 {
        let mut set = AlertSet::default();
        for i in 0..6 {
            let mut l = Labels::new();
            l.insert("alertname".into(), hostile.text());
            l.insert("severity".into(), hostile.text());
            l.insert("instance".into(), hostile.text());
            l.insert(hostile.text(), hostile.text());
            let mut a = Labels::new();
            a.insert("summary".into(), hostile.text());
            a.insert(hostile.text(), hostile.text());
            let state = if i % 3 == 0 {
                AlertState::Suppressed
            } else {
                AlertState::Active
            };
            set.alerts.push(alert(&hostile.text(), l, a, state));
        }
        set.groups.push(AlertGroup {
            labels: labels(&[("alertname", &hostile.text())]),
            receiver: hostile.text(),
            alerts: (0..6).collect(),
        });
        set.silences.push(Silence {
            id: hostile.text(),
            matchers: vec![Matcher::equal(hostile.text(), hostile.text())],
            starts_at: None,
            ends_at: Some(now() + Duration::from_secs(60)),
            updated_at: None,
            created_by: hostile.text(),
            comment: hostile.text(),
            state: SilenceState::Active,
        });
        let mut app = app(fleet_with(set));
        press(&mut app, KeyCode::Char('0'));
        for pane in 0..3 {
            for step in 0..3 {
                for (w, h) in [(200, 60), (80, 24)] {
                    let terminal = render(&app, w, h);
                    for cell in terminal.backend().buffer().content() {
                        assert!(
                            cell.symbol().chars().all(harmless),
                            "round {round}, pane {pane}, step {step}, {w}x{h}: {:?}",
                            cell.symbol()
                        );
                    }
                }
                press(&mut app, KeyCode::Down);
            }
            press(&mut app, KeyCode::Char(']'));
        }
    }
}

fn ctrl(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(
        KeyCode::Char(c),
        crossterm::event::KeyModifiers::CONTROL,
    ));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

#[test]
fn a_silence_is_drafted_from_the_alert_and_reviewed_in_the_dialog() {
    let mut set = sample_set();
    set.alerts.push(alert(
        "a3",
        labels(&[
            ("alertname", "SwapInUse"),
            ("instance", "db-1:9100"),
            ("severity", "warning"),
        ]),
        labels(&[("summary", "db-1 is swapping")]),
        AlertState::Active,
    ));
    set.groups[0].alerts.push(2);
    let mut app = app(fleet_with(set));
    app.role = mastop::actions::Role::Oncall;
    app.screens.alerts.operator = "mei on console-1".into();
    press(&mut app, KeyCode::Char('0'));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('a'));
    let form = app.screens.alerts.form.clone().expect("the form is open");
    assert_eq!(
        form.fields[0],
        "alertname=\"DiskAlmostFull\", instance=\"db-1:9100\", job=\"node\", severity=\"critical\""
    );
    assert_eq!(form.fields[1], "2h");
    assert_eq!(form.matching, Some(1));
    let text = screen(&app, 200, 60);
    assert!(
        text.contains("New silence for DiskAlmostFull on alertmanager/main"),
        "{text}"
    );
    assert!(text.contains("matches 1 firing alert now"), "{text}");

    // Typing goes into the form, not to the console's keys (q does not quit).
    type_text(&mut app, "q");
    assert_eq!(
        app.screens
            .alerts
            .form
            .as_ref()
            .map(|f| f.fields[2].as_str()),
        Some("q")
    );
    press(&mut app, KeyCode::Backspace);

    // Wider matchers: the count follows as they are typed.
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.screens.alerts.form.as_ref().map(|f| f.focus), Some(0));
    ctrl(&mut app, 'u');
    type_text(&mut app, "instance=\"db-1:9100\"");
    assert_eq!(
        app.screens.alerts.form.as_ref().and_then(|f| f.matching),
        Some(2)
    );
    let text = screen(&app, 200, 60);
    assert!(
        text.contains("matches 2 firing alerts now: you will type `2 alerts` to confirm"),
        "{text}"
    );

    // No comment yet: said in the form, nothing built.
    let effect = press(&mut app, KeyCode::Enter);
    assert_eq!(effect, mastop::tui::app::Effect::None);
    let text = screen(&app, 200, 60);
    assert!(text.contains("say why in the comment"), "{text}");
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "db-1 maintenance");
    let effect = press(&mut app, KeyCode::Enter);
    let mastop::tui::app::Effect::Preview(action) = effect else {
        panic!("expected the dialog's preview, got {effect:?}")
    };
    assert!(app.screens.alerts.form.is_none());
    assert_eq!(action.risk, mastop::actions::Risk::High);
    assert_eq!(action.target.name, "2 alerts");
    assert_eq!(action.target.component, "alertmanager/main");
    let mastop::actions::Operation::Alertmanager {
        body: Some(body), ..
    } = &action.operations[0]
    else {
        panic!("an Alertmanager operation")
    };
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(body["createdBy"], "mei on console-1");
    assert_eq!(body["comment"], "db-1 maintenance");
    assert_eq!(body["matchers"][0]["name"], "instance");
    let text = screen(&app, 200, 60);
    assert!(text.contains("Silence 2 firing alerts for 2h"), "{text}");
    assert!(text.contains("Type 2 alerts to confirm"), "{text}");
    assert!(text.contains("POST /api/v2/silences {"), "{text}");

    // Esc closes the dialog; on the silences table `a` offers to expire the silence.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    let effect = press(&mut app, KeyCode::Char('a'));
    let mastop::tui::app::Effect::Preview(action) = effect else {
        panic!("expected the dialog's preview, got {effect:?}")
    };
    assert_eq!(action.kind, "alertmanager.expire_silence");
    assert_eq!(
        action.operations[0].display(),
        "DELETE /api/v2/silence/5f1c"
    );
}
