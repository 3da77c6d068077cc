//! The console's log view: drawn from the demo's journals at two sizes, filtered and
//! inverted, following that pauses when scrolled and counts what arrived and what the cap
//! dropped, wrapping, private by default (a seeded property test over generated members'
//! data), reveal audited for on-call and refused for shadow, `:logs` and `l` opening it,
//! the demo's journals read with no SSH, and two real journals merged through the
//! harness's sshd.

use crate::support;

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};
use mastop::actions::Role;
use mastop::actions::audit::Outcome;
use mastop::config::Config;
use mastop::engine::logs::{LogEvent, LogRead, LogReaders};
use mastop::logs::query::{UnitPattern, Window};
use mastop::logs::{LogLine, Priority};
use mastop::model::{ComponentId, ComponentMeta, Fleet, SourceStatus};
use mastop::tui::app::{App, View};
use mastop::tui::command::Command;
use mastop::tui::component::{Component, Ctx, Effect};
use mastop::tui::keymap::Keymap;
use mastop::tui::logs::target::LogTarget;
use mastop::tui::logs::{LogWork, LogsPane, LogsView};
use mastop::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

const NOW_S: u64 = 1_795_000_000;
const NOW_US: i64 = NOW_S as i64 * 1_000_000;
/// Script second 500: the two minutes before hold redis-1's failing saves (web's `MISCONF`)
/// and its firewall gone after the reboot (streaming, Sidekiq and the edges).
const REDIS_INCIDENT: Duration = Duration::from_secs(500);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S)
}

struct Screen {
    fleet: Fleet,
    theme: Theme,
    keymap: Keymap,
    view: View,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            fleet: Fleet::new(Vec::new(), Default::default()),
            theme: Theme::builtin("dark").expect("dark theme"),
            keymap: Keymap::builtin("default").expect("default keymap"),
            view: View::Overview,
        }
    }

    fn ctx(&self, role: Role) -> Ctx<'_> {
        Ctx {
            fleet: &self.fleet,
            theme: &self.theme,
            keymap: &self.keymap,
            role,
            demo: None,
            identity: None,
            freeze: None,
            room: None,
            now: now(),
            view: &self.view,
            focused: true,
        }
    }

    fn render(&self, logs: &LogsView, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        let ctx = self.ctx(Role::Oncall);
        terminal
            .draw(|f| logs.draw(f, f.area(), &ctx))
            .expect("draw");
        terminal.backend().to_string()
    }
}

fn units(list: &[&str]) -> Vec<UnitPattern> {
    list.iter()
        .map(|u| UnitPattern::parse(u).expect("unit"))
        .collect()
}

fn target(hosts: &str, unit_list: &[&str]) -> LogTarget {
    LogTarget {
        hosts: hosts.into(),
        units: units(unit_list),
        window: Window::parse("15m").expect("window"),
    }
}

fn view(hosts: &str, unit_list: &[&str], ring: usize) -> LogsView {
    LogsView::new(
        target(hosts, unit_list),
        ring,
        mastop::logs::signatures::Signatures::shipped(),
    )
}

/// The demo's lines of `hosts` for the two minutes before `NOW_S`, `script` into the story.
fn demo_lines(hosts: &[&str], unit_list: &[&str], script: Duration) -> Vec<LogLine> {
    let anchor = mastop::demo::clock::Anchor::new(script, now());
    mastop::demo::logs::between(
        hosts,
        &units(unit_list),
        anchor,
        NOW_US - 120_000_000,
        NOW_US,
    )
}

fn line(at_us: i64, host: &str, priority: u8, message: &str) -> LogLine {
    LogLine {
        at_us,
        host: host.into(),
        unit: "mastodon-web.service".into(),
        priority: Priority::new(priority),
        message: message.into(),
    }
}

fn numbered(from: usize, n: usize) -> Vec<LogLine> {
    (from..from + n)
        .map(|i| {
            line(
                NOW_US + i as i64 * 1000,
                "web-1",
                6,
                &format!("GET /line/{i}"),
            )
        })
        .collect()
}

fn press(logs: &mut LogsView, screen: &Screen, command: Command) -> Effect {
    logs.key(command, &screen.ctx(Role::Oncall))
}

fn type_filter(logs: &mut LogsView, screen: &Screen, text: &str) {
    assert_eq!(press(logs, screen, Command::Filter), Effect::None);
    assert!(logs.wants_text());
    for c in text.chars() {
        logs.text(&KeyEvent::from(KeyCode::Char(c)), &screen.ctx(Role::Oncall));
    }
}

#[test]
fn the_demo_incident_at_80x24_and_200x60() {
    let screen = Screen::new();
    let hosts = ["web-1", "streaming-1", "tokyo-1"];
    let mut logs = view(
        "web-1,streaming-1,tokyo-1",
        &[
            "mastodon-web.service",
            "mastodon-streaming.service",
            "nginx.service",
        ],
        10_000,
    );
    logs.add(demo_lines(
        &hosts,
        &[
            "mastodon-web.service",
            "mastodon-streaming.service",
            "nginx.service",
        ],
        REDIS_INCIDENT,
    ));
    for (w, h) in [(80, 24), (200, 60)] {
        let shown = screen.render(&logs, w, h);
        assert!(shown.contains("following"), "{shown}");
        insta::assert_snapshot!(format!("demo_incident_{w}x{h}"), shown);
    }
    let wide = screen.render(&logs, 200, 60);
    for text in [
        "streaming-1",
        "tokyo-1",
        "Tried writing to closed socket",
        "upstream timed out",
        "streaming closed socket",
    ] {
        assert!(wide.contains(text), "{text} not on screen:\n{wide}");
    }
}

#[test]
fn the_filter_keeps_matches_and_its_inverse_keeps_the_rest() {
    let screen = Screen::new();
    let mut logs = view("web-1", &["mastodon-web.service"], 1000);
    logs.add(demo_lines(
        &["web-1"],
        &["mastodon-web.service"],
        REDIS_INCIDENT,
    ));
    let total = logs.buffer.len();
    type_filter(&mut logs, &screen, "misconf");
    let kept = logs.visible(total);
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|l| l.message.contains("MISCONF")));
    let kept = kept.len();
    assert_eq!(press(&mut logs, &screen, Command::Confirm), Effect::None);
    assert_eq!(logs.filter_text(), Some("misconf"));

    type_filter(&mut logs, &screen, "");
    for _ in 0.."misconf".len() {
        logs.text(
            &KeyEvent::from(KeyCode::Backspace),
            &screen.ctx(Role::Oncall),
        );
    }
    type_filter_more(&mut logs, &screen, "!MISCONF");
    let rest = logs.visible(total);
    assert_eq!(
        rest.len() + kept,
        total,
        "a filter and its inverse split the lines"
    );
    assert!(rest.iter().all(|l| !l.message.contains("MISCONF")));
    let shown = screen.render(&logs, 120, 30);
    assert!(shown.contains("/!MISCONF"), "{shown}");

    // Esc goes back to the filter before the prompt opened.
    press(&mut logs, &screen, Command::Confirm);
    type_filter(&mut logs, &screen, "zzz");
    press(&mut logs, &screen, Command::Cancel);
    assert_eq!(logs.filter_text(), Some("!MISCONF"));

    // A pattern that does not parse keeps the last one that did, and says why.
    type_filter(&mut logs, &screen, "(");
    let effect = press(&mut logs, &screen, Command::Confirm);
    assert!(
        matches!(&effect, Effect::Flash(m, _) if m.contains("not a regular expression")),
        "{effect:?}"
    );
}

fn type_filter_more(logs: &mut LogsView, screen: &Screen, text: &str) {
    for c in text.chars() {
        logs.text(&KeyEvent::from(KeyCode::Char(c)), &screen.ctx(Role::Oncall));
    }
}

#[test]
fn scrolling_up_pauses_with_counts_and_end_resumes() {
    let screen = Screen::new();
    let mut logs = view("web-1", &["mastodon-web.service"], 10_000);
    logs.add(numbered(0, 100));
    assert!(screen.render(&logs, 100, 20).contains("GET /line/99"));
    press(&mut logs, &screen, Command::Up);
    assert!(logs.paused());
    let bottom = logs.selected().map(|l| l.message.clone());
    assert_eq!(bottom.as_deref(), Some("GET /line/98"));
    logs.add(numbered(100, 30));
    assert_eq!(logs.new_while_paused, 30);
    assert_eq!(
        logs.selected().map(|l| l.message.clone()),
        bottom,
        "the view stays on the lines it showed"
    );
    let shown = screen.render(&logs, 100, 20);
    assert!(shown.contains("paused · 30 new"), "{shown}");
    assert!(!shown.contains("GET /line/129"));
    press(&mut logs, &screen, Command::Bottom);
    assert!(!logs.paused());
    assert_eq!(logs.new_while_paused, 0);
    let shown = screen.render(&logs, 100, 20);
    assert!(shown.contains("GET /line/129"), "{shown}");
    assert!(shown.contains("following"));

    // Stopping and starting to follow: a stop, then a new read of the window.
    assert_eq!(
        press(&mut logs, &screen, Command::Follow),
        Effect::Logs(LogWork::Stop)
    );
    assert!(screen.render(&logs, 100, 20).contains("not following"));
    let before = logs.generation();
    match press(&mut logs, &screen, Command::Follow) {
        Effect::Logs(LogWork::Read { generation, read }) => {
            assert!(read.follow);
            assert!(generation > before);
        }
        other => panic!("expected a new read, got {other:?}"),
    }
    // A batch of the old read never lands in the new one.
    logs.receive(
        before,
        LogEvent::Lines {
            lines: numbered(500, 5),
            unreadable: 0,
            dropped: 0,
        },
    );
    assert!(logs.buffer.is_empty());
}

#[test]
fn presets_reread_the_window_and_are_in_the_footer() {
    let screen = Screen::new();
    let mut logs = view("role:mastodon-web", &["mastodon-web*"], 500);
    let shown = screen.render(&logs, 160, 20);
    for hint in [
        "0 tail", "1 1m", "2 5m", "3 15m", "4 1h", "f stop", "w wrap", "/ filter",
    ] {
        assert!(shown.contains(hint), "{hint} not in the footer:\n{shown}");
    }
    for (command, label) in [
        (Command::Since1h, "1h"),
        (Command::SinceTail, "tail"),
        (Command::Since1m, "1m"),
    ] {
        match press(&mut logs, &screen, command) {
            Effect::Logs(LogWork::Read { read, .. }) => {
                assert_eq!(read.window.label(), label);
                assert_eq!(read.target, "role:mastodon-web");
                assert_eq!(read.max_lines, 500);
            }
            other => panic!("expected a read, got {other:?}"),
        }
    }
}

#[test]
fn wrapping_shows_the_end_of_a_long_line() {
    let screen = Screen::new();
    let mut logs = view("web-1", &["mastodon-web.service"], 100);
    let long = format!("start {} the-end-of-the-line", "x".repeat(150));
    logs.add(vec![line(NOW_US, "web-1", 6, &long)]);
    assert!(!screen.render(&logs, 80, 20).contains("the-end-of-the-line"));
    press(&mut logs, &screen, Command::Wrap);
    let shown = screen.render(&logs, 80, 20);
    assert!(shown.contains("the-end-of-the-line"), "{shown}");
    press(&mut logs, &screen, Command::Timestamps);
    assert!(!screen.render(&logs, 80, 20).contains(":00.000"));
}

/// A small seeded generator of members' data in log lines.
struct Private(u64);

impl Private {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn word(&mut self, len: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
        (0..len)
            .map(|_| A[(self.next() % A.len() as u64) as usize] as char)
            .collect()
    }
    /// A line holding one secret, and the secret.
    fn line(&mut self) -> (String, String) {
        let n = self.next();
        let secret = match n % 5 {
            0 => format!("{}.{}@{}.example", self.word(5), self.word(3), self.word(6)),
            1 => format!(
                "{}.{}.{}.{}",
                self.next() % 256,
                self.next() % 256,
                self.next() % 256,
                self.next() % 256
            ),
            2 => format!(
                "2001:db8:{:x}:{:x}::{:x}",
                self.next() % 65536,
                self.next() % 65536,
                1 + self.next() % 65535
            ),
            3 => format!("{}{}Q{}", self.word(12), self.next() % 1000, self.word(10)),
            _ => format!("{}{}", self.word(20), self.next()),
        };
        let line = match (n / 5) % 5 {
            0 => format!("Sent mail to {secret} (12.3ms)"),
            1 => format!("method=GET path=/api/v1/accounts remote_ip={secret} status=200"),
            2 => format!("Started GET \"/api/v1/streaming?access_token={secret}&stream=user\""),
            3 => format!("Authorization: Bearer {secret}"),
            _ => format!("client {secret} token={secret}"),
        };
        (line, secret)
    }
}

#[test]
fn members_data_never_reaches_the_screen_by_default() {
    let screen = Screen::new();
    let mut private = Private(0x10c5_5eed);
    for round in 0..25 {
        let mut logs = view("role:mastodon-web", &["mastodon-web*"], 1000);
        let mut secrets = Vec::new();
        let lines: Vec<LogLine> = (0..50)
            .map(|i| {
                let (text, secret) = private.line();
                secrets.push(secret);
                line(NOW_US + i, "web-1", 6, &text)
            })
            .collect();
        logs.add(lines);
        let shown = screen.render(&logs, 200, 60);
        let (saved, n) = logs.shown_text();
        assert_eq!(n, 50);
        for secret in &secrets {
            assert!(
                !shown.contains(secret.as_str()),
                "round {round}: `{secret}` on screen:\n{shown}"
            );
            assert!(
                !saved.contains(secret.as_str()),
                "round {round}: `{secret}` saved"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveal_is_audited_for_oncall_and_refused_for_shadow() {
    let screen = Screen::new();
    let mut logs = view("web-1", &["mastodon-web.service"], 100);
    logs.add(vec![line(
        NOW_US,
        "web-1",
        3,
        "Sent mail to alice@example.social",
    )]);
    assert!(
        !screen
            .render(&logs, 100, 20)
            .contains("alice@example.social")
    );
    let cfg = Config::default();
    for (role, outcome) in [
        (Role::Oncall, Outcome::Ok),
        (Role::Shadow, Outcome::Refused),
    ] {
        let Effect::Reveal {
            component,
            table,
            key,
            content,
        } = logs.key(Command::Reveal, &screen.ctx(role))
        else {
            panic!("v asks for a reveal");
        };
        assert_eq!(component, "logs/web-1");
        assert_eq!(table, "mastodon-web.service");
        let console = support::console::Console::new(role, &cfg, None);
        let result = console
            .runtime
            .reveal(&component, &table, &key, content)
            .await;
        match role {
            Role::Oncall => assert_eq!(result.as_deref(), Ok("Sent mail to alice@example.social")),
            _ => assert!(
                result
                    .as_ref()
                    .is_err_and(|e| e.contains("read-only: shadowing")),
                "{result:?}"
            ),
        }
        let (records, _) = console.audit.read_since(None).expect("audit");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].kind, "reveal");
        assert_eq!(records[0].outcome, Some(outcome));
        assert!(
            records[0].title.contains("logs/web-1"),
            "{}",
            records[0].title
        );
        let raw = std::fs::read_to_string(console.audit.path()).expect("raw audit");
        assert!(
            !raw.contains("alice@example.social"),
            "content in the audit: {raw}"
        );
    }
}

fn host_fleet() -> Fleet {
    let meta = |kind: &'static str, name: &str| ComponentMeta {
        id: ComponentId::new(kind, name),
        kind,
        region: String::new(),
        tags: Vec::new(),
    };
    let cadence = Duration::from_secs(2);
    Fleet::new(
        vec![
            (meta("host", "web-1"), SourceStatus::pending(cadence)),
            (meta("sidekiq", "main"), SourceStatus::pending(cadence)),
        ],
        Default::default(),
    )
}

fn app() -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    App::new(host_fleet(), keymap, theme, now())
}

fn type_palette(app: &mut App, line: &str) -> Effect {
    app.handle_key(KeyEvent::from(KeyCode::Char(':')));
    for c in line.chars() {
        app.handle_key(KeyEvent::from(KeyCode::Char(c)));
    }
    app.handle_key(KeyEvent::from(KeyCode::Enter))
}

#[test]
fn the_palette_says_what_is_wrong_with_a_logs_command() {
    for (line, says) in [
        ("logs", "usage: :logs HOST"),
        ("logs web-1", "usage: :logs HOST"),
        ("logs web;1 nginx", "is not a host or role:NAME"),
        ("logs web-1 a/b", "is not a unit name"),
        ("logs web-1 --directory=/", "is not a unit name"),
        ("logs web-1 nginx soon", "is not a log window"),
    ] {
        let mut app = app();
        assert_eq!(type_palette(&mut app, line), Effect::None);
        let flash = app
            .flash
            .as_ref()
            .map(|f| f.text.clone())
            .unwrap_or_default();
        assert!(flash.contains(says), "`:{line}` said `{flash}`");
        assert!(!app.logs.is_open());
    }
    let mut app = app();
    match type_palette(&mut app, "logs role:mastodon-sidekiq mastodon-sidekiq* 1h") {
        Effect::Logs(LogWork::Read { read, .. }) => {
            assert_eq!(read.target, "role:mastodon-sidekiq");
            assert_eq!(read.window.label(), "1h");
            assert!(read.follow);
        }
        other => panic!("expected a read, got {other:?}"),
    }
    assert!(app.logs.is_open());
    // Closing the view stops its reading.
    assert_eq!(
        app.handle_key(KeyEvent::from(KeyCode::Esc)),
        Effect::Logs(LogWork::Stop)
    );
    assert!(!app.logs.is_open());
}

#[test]
fn l_opens_a_hosts_units_and_a_components_role() {
    let mut app = app();
    app.rebuild();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match app.handle_key(KeyEvent::from(KeyCode::Char('l'))) {
            Effect::Logs(LogWork::Read { read, .. }) => {
                seen.push((read.target.clone(), read.units[0].to_string()));
            }
            other => panic!("expected a read, got {other:?}"),
        }
        app.handle_key(KeyEvent::from(KeyCode::Esc));
        app.handle_key(KeyEvent::from(KeyCode::Char('j')));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "role:mastodon-sidekiq".to_string(),
                "mastodon-sidekiq*".to_string()
            ),
            ("web-1".to_string(), "mastodon-*".to_string()),
        ]
    );
}

#[test]
fn a_flood_is_capped_and_the_dropped_count_is_exact() {
    let screen = Screen::new();
    let mut logs = view("streaming-1", &["mastodon-streaming.service"], 2_000);
    logs.add(numbered(0, 100));
    press(&mut logs, &screen, Command::PageUp);
    assert!(logs.paused());
    for batch in 0..20 {
        let lines: Vec<LogLine> = (0..500)
            .map(|i| {
                let n = 100 + batch * 500 + i;
                line(
                    NOW_US + n as i64 * 100,
                    "streaming-1",
                    3,
                    &format!("ERR! Tried writing to closed socket #{n}"),
                )
            })
            .collect();
        logs.add(lines);
    }
    assert_eq!(logs.buffer.len(), 2_000);
    assert_eq!(logs.buffer.received(), 10_100);
    assert_eq!(logs.buffer.dropped(), 8_100);
    assert_eq!(logs.dropped_while_paused(), 8_100);
    assert_eq!(logs.new_while_paused, 10_000);
    let shown = screen.render(&logs, 200, 60);
    assert!(shown.contains("paused · 10,000 new"), "{shown}");
    assert!(
        shown.contains("dropped 8,100 lines while paused"),
        "{shown}"
    );
    assert!(shown.contains("streaming closed socket"), "{shown}");
    press(&mut logs, &screen, Command::Bottom);
    let shown = screen.render(&logs, 80, 24);
    assert!(shown.contains("closed socket #10099"), "{shown}");
    assert!(shown.contains("dropped 8,100"), "{shown}");
}

/// Reads `read` to its end (or `want` lines) and hands every batch to the pane.
async fn read_into(
    readers: &LogReaders,
    pane: &mut LogsPane,
    generation: u64,
    read: LogRead,
    want: usize,
) {
    let (tx, mut rx) = mpsc::channel(4);
    let reading = {
        let readers = readers.clone();
        tokio::spawn(async move { readers.stream(read, tx).await })
    };
    let mut got = 0;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        let ended = matches!(event, LogEvent::Ended(_));
        if let LogEvent::Lines { lines, .. } = &event {
            got += lines.len();
        }
        pane.receive(generation, event);
        if ended || got >= want {
            break;
        }
    }
    reading.abort();
}

fn opened(pane: &mut LogsPane, target: LogTarget, follow: bool) -> (u64, LogRead) {
    match pane.open(target) {
        Effect::Logs(LogWork::Read {
            generation,
            mut read,
        }) => {
            read.follow = follow;
            if let Some(view) = pane.view.as_mut() {
                view.following = follow;
            }
            (generation, read)
        }
        other => panic!("expected a read, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_journals_need_no_ssh_and_save_to_a_temp_dir() {
    let readers = LogReaders::demo(REDIS_INCIDENT);
    assert!(readers.is_demo());
    let dir = readers.save_dir().expect("a save directory");
    assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
    let mut pane = LogsPane::default();
    let (generation, read) = opened(
        &mut pane,
        target("role:mastodon-web", &["mastodon-web*"]),
        true,
    );
    read_into(&readers, &mut pane, generation, read, 1).await;
    let logs = pane.view.as_ref().expect("open");
    assert!(!logs.loading);
    assert!(
        logs.buffer
            .lines()
            .iter()
            .any(|l| l.message.contains("MISCONF"))
    );
    let hosts: std::collections::BTreeSet<&str> = logs
        .buffer
        .lines()
        .iter()
        .map(|l| l.host.as_str())
        .collect();
    assert_eq!(hosts.into_iter().collect::<Vec<_>>(), ["web-1", "web-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_real_journals_merge_by_time_in_the_view() {
    use support::journal::{Entry, now_us, write_journal};
    // Two hosts of the config, each with its own journal, served by one real sshd.
    let sshd = support::Sshd::start(&[]);
    let now = now_us();
    let mut cfg = Config {
        ssh: sshd.ssh_config(),
        ..Config::default()
    };
    for (name, offset, text) in [
        ("streaming-1", 0, "ERR! Tried writing to closed socket"),
        (
            "streaming-2",
            1_000_000,
            "GET /api/v1/streaming 101 from 203.0.113.9",
        ),
    ] {
        let dir = sshd.dir().join(format!("journal-{name}"));
        write_journal(
            &dir,
            &(0..10)
                .map(|i| {
                    Entry::new(
                        now - 60_000_000 + offset + i * 2_000_000,
                        "mastodon-streaming.service",
                        if offset == 0 { 3 } else { 6 },
                        text,
                    )
                })
                .collect::<Vec<_>>(),
        );
        let mut host = sshd.host(name);
        host.journal_directory = Some(dir.display().to_string());
        host.roles = vec!["mastodon-streaming".into()];
        cfg.hosts.push(host);
    }
    let readers = LogReaders::live(cfg);
    let mut pane = LogsPane::default();
    let (generation, read) = opened(
        &mut pane,
        target("role:mastodon-streaming", &["mastodon-streaming.service"]),
        false,
    );
    read_into(&readers, &mut pane, generation, read, usize::MAX).await;
    let logs = pane.view.as_ref().expect("open");
    let notes: Vec<&str> = logs.notes().collect();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(logs.buffer.len(), 20);
    let order: Vec<&str> = logs
        .buffer
        .lines()
        .iter()
        .map(|l| l.host.as_str())
        .collect();
    assert_eq!(
        &order[..4],
        ["streaming-1", "streaming-2", "streaming-1", "streaming-2"]
    );
    let screen = Screen::new();
    let shown = screen.render(logs, 120, 30);
    let rows: Vec<&str> = shown.lines().filter(|r| r.contains("streaming-")).collect();
    assert!(rows.len() >= 20, "{shown}");
    assert!(
        rows.iter()
            .any(|r| r.contains("streaming-1") && r.contains("closed socket"))
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("streaming-2") && r.contains("‹ip›"))
    );
    assert!(!shown.contains("203.0.113.9"));
}

/// The real binary: `:logs` in the demo reads the incident's lines through the event loop,
/// saves them redacted into a temporary directory (never the data directory), reveals one
/// line into the demo's own audit without its text, and closes with `esc`.
#[test]
fn the_demo_console_opens_saves_and_reveals_a_log() {
    let mut c = crate::pty::Console::start(&["demo", "--at", "480s"], 160, 40);
    c.wait_for_text("ON-CALL");
    c.send(b":logs role:mastodon-web mastodon-web 1m\r");
    c.wait_for_text("logs · role:mastodon-web");
    let shown = c.wait_for("the incident's lines, following", |s| {
        s.contains("MISCONF") && s.contains("following ·")
    });
    for client in ["203.0.113.7", "198.51.100.23", "192.0.2.144"] {
        assert!(!shown.contains(client), "{client} on screen:\n{shown}");
    }
    c.send(b"\x13");
    let flash = c.wait_for("the saved file named", |s| {
        s.split("(redacted) to ").nth(1).is_some_and(|rest| {
            rest.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with(".log"))
        })
    });
    let path = flash
        .split("(redacted) to ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the saved file's path")
        .to_string();
    assert!(path.starts_with("/tmp/mastop-demo-logs/"), "{path}");
    let saved = std::fs::read_to_string(&path).expect("the saved log");
    let _ = std::fs::remove_file(&path);
    assert!(
        saved.contains("MISCONF") && saved.contains("‹ip›"),
        "{saved}"
    );
    assert!(!saved.contains("203.0.113.7") && !saved.contains("198.51.100.23"));
    assert!(
        !c.home().join("data/mastop/logs").exists(),
        "the demo saved into the real data directory"
    );

    c.send(b"v");
    c.wait_for_text("logs/web-");
    let audit = c.demo_audit().expect("the demo's audit");
    assert!(audit.contains("\"kind\":\"reveal\""), "{audit}");
    assert!(
        !audit.contains("remote_ip"),
        "the line's text reached the audit: {audit}"
    );
    c.send(b"x");
    c.wait_for("the revealed line closed", |s| !s.contains("logs/web-"));
    c.send(b"\x1b");
    c.wait_for("the log view closed", |s| !s.contains("logs · role:"));
    c.send(b"q");
    assert!(c.wait_exit());
}

/// `l` on a row of a host's systemd units reads that unit on that host.
#[test]
fn l_on_a_unit_row_reads_that_unit() {
    let readings = mastop::demo::readings_at(REDIS_INCIDENT, now());
    let metas = readings
        .iter()
        .map(|(m, _)| (m.clone(), SourceStatus::pending(Duration::from_secs(2))))
        .collect();
    let mut fleet = Fleet::new(metas, Default::default());
    for (meta, reading) in readings {
        let status = SourceStatus {
            state: mastop::model::SourceState::Ok,
            last_ok: Some(now()),
            ..SourceStatus::pending(Duration::from_secs(2))
        };
        fleet.apply(&meta.id, status, Some(reading));
    }
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(fleet, keymap, theme, now());
    app.view = View::Detail(ComponentId::new("host", "web-1"));
    app.rebuild();
    let units_table = {
        let state = app.screens.detail.state.as_ref().expect("a detail view");
        mastop::tui::rows::detail::table_titles(&state.detail)
            .iter()
            .position(|t| t.starts_with(mastop::sources::host::UNITS_TABLE))
            .expect("a units table")
    };
    if let Some(state) = app.screens.detail.state.as_mut() {
        state.focus = units_table;
    }
    let (_, key) = app
        .screens
        .detail
        .selected_row()
        .expect("a unit row is selected");
    match app.handle_key(KeyEvent::from(KeyCode::Char('l'))) {
        Effect::Logs(LogWork::Read { read, .. }) => {
            assert_eq!(read.target, "web-1");
            assert_eq!(read.units[0].as_str(), key);
        }
        other => panic!("expected a read, got {other:?}"),
    }
}

/// Processes whose command line holds all of `words` (the remote journalctl runs on this
/// machine, behind the harness's sshd).
fn processes_with(words: &[&str]) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.starts_with("journalctl") && words.iter().all(|w| cmd.contains(w)))
        .count()
}

/// Following a real journal: the window, then a line written later; closing the view (the
/// loop aborts the read) ends the remote journalctl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_a_real_journal_streams_and_closing_stops_journalctl() {
    use support::journal::{Entry, now_us, write_journal};
    let sshd = support::Sshd::start(&[]);
    let dir = sshd.dir().join("journal-follow");
    let now = now_us();
    write_journal(
        &dir,
        &[Entry::new(
            now - 30_000_000,
            "mastodon-web.service",
            3,
            "MISCONF Redis is configured to save RDB snapshots",
        )],
    );
    let mut host = sshd.host("web-1");
    host.journal_directory = Some(dir.display().to_string());
    let cfg = Config {
        ssh: sshd.ssh_config(),
        hosts: vec![host],
        ..Config::default()
    };
    let readers = LogReaders::live(cfg);
    let mut pane = LogsPane::default();
    let (generation, read) = opened(&mut pane, target("web-1", &["mastodon-web.service"]), true);
    let (tx, mut rx) = mpsc::channel(4);
    let task = {
        let readers = readers.clone();
        tokio::spawn(async move { readers.stream(read, tx).await })
    };
    let guard = Duration::from_secs(20);
    let mut appended = false;
    loop {
        let event = tokio::time::timeout(guard, rx.recv())
            .await
            .expect("the follow answers")
            .expect("the follow goes on");
        pane.receive(generation, event);
        let logs = pane.view.as_ref().expect("open");
        if logs.buffer.len() == 1 && !appended {
            assert!(!logs.loading);
            write_journal(
                &dir,
                &[Entry::new(
                    now_us(),
                    "mastodon-web.service",
                    6,
                    "written while following",
                )],
            );
            appended = true;
        }
        if logs.buffer.len() == 2 {
            break;
        }
    }
    let logs = pane.view.as_ref().expect("open");
    let last = logs.buffer.lines().back().map(|l| l.message.clone());
    assert_eq!(last.as_deref(), Some("written while following"));
    let dir_text = dir.display().to_string();
    assert_eq!(processes_with(&["--follow", &dir_text]), 1);
    task.abort();
    let _ = task.await;
    let started = std::time::Instant::now();
    while processes_with(&["--follow", &dir_text]) > 0 {
        assert!(
            started.elapsed() < guard,
            "journalctl outlived the closed view"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A target no `[[host]]` names is read from the configured Loki: the harness's HTTP server
/// answers with `query_range`'s documented JSON, and the view shows it redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loki_answer_fills_the_view_when_no_host_is_configured() {
    use support::scripted_http::{Reply, ScriptedHttp};
    const ANSWER: &str = r#"{"status":"success","data":{"resultType":"streams","result":[
 {"stream":{"host":"web-1","unit":"mastodon-web.service","level":"error"},
  "values":[["1700000800000000000","MISCONF Redis is configured to save RDB snapshots"],
            ["1700000700000000000","Completed 401 for 198.51.100.23 user=dana@example.net"]]},
 {"stream":{"host":"web-2","unit":"mastodon-web.service","priority":"6"},
  "values":[["1700000750000000000","GET /api/v1/timelines/home?access_token=Zx81secret"]]}
 ]}}"#;
    let server = ScriptedHttp::start();
    server.route_any_query("/loki/api/v1/query_range", Reply::json(ANSWER));
    let cfg = Config {
        loki: vec![mastop::config::EndpointConfig::new("main", server.url())],
        ..Config::default()
    };
    let readers = LogReaders::live(cfg);
    let mut pane = LogsPane::default();
    let (generation, read) = opened(
        &mut pane,
        target("web-1,web-2", &["mastodon-web.service"]),
        false,
    );
    read_into(&readers, &mut pane, generation, read, usize::MAX).await;
    let logs = pane.view.as_ref().expect("open");
    let notes: Vec<&str> = logs.notes().collect();
    assert!(notes.is_empty(), "{notes:?}");
    let hosts: Vec<&str> = logs
        .buffer
        .lines()
        .iter()
        .map(|l| l.host.as_str())
        .collect();
    assert_eq!(hosts, ["web-1", "web-2", "web-1"], "merged by time");
    let shown = Screen::new().render(logs, 120, 20);
    assert!(
        shown.contains("MISCONF") && shown.contains("‹email›"),
        "{shown}"
    );
    for secret in ["198.51.100.23", "dana@example.net", "Zx81secret"] {
        assert!(!shown.contains(secret), "{secret} on screen:\n{shown}");
    }
    let asked = server.requests().join("\n");
    assert!(
        asked.contains("web-1%7Cweb-2") || asked.contains("web-1|web-2"),
        "{asked}"
    );
}

/// Lines the reader dropped because the console was behind count as dropped lines in the
/// view: received, never kept, and said while paused.
#[test]
fn lines_dropped_at_the_reader_are_counted_by_the_view() {
    let screen = Screen::new();
    let mut logs = view("streaming-1", &["mastodon-streaming.service"], 1_000);
    let generation = logs.generation();
    logs.receive(
        generation,
        LogEvent::Lines {
            lines: numbered(0, 100),
            unreadable: 0,
            dropped: 0,
        },
    );
    press(&mut logs, &screen, Command::Up);
    assert!(logs.paused());
    logs.receive(
        generation,
        LogEvent::Lines {
            lines: numbered(100, 10),
            unreadable: 2,
            dropped: 4_000,
        },
    );
    assert_eq!(logs.buffer.received(), 4_110);
    assert_eq!(logs.buffer.len(), 110);
    assert_eq!(logs.buffer.dropped(), 4_000);
    assert_eq!(logs.dropped_while_paused(), 4_000);
    assert_eq!(logs.unreadable, 2);
    let shown = screen.render(&logs, 200, 30);
    assert!(
        shown.contains("dropped 4,000 lines while paused"),
        "{shown}"
    );
}

/// A 20,000-line flood followed over a real SSH session into the console's bounded queue:
/// whatever the console could not take in time was dropped at the reader and counted, so
/// every line is accounted for, exactly once, as kept or dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_into_the_bounded_queue_is_kept_or_counted_exactly() {
    use support::journal::{Entry, now_us, write_journal};
    let sshd = support::Sshd::start(&[]);
    let now = now_us();
    let dir = sshd.dir().join("journal");
    write_journal(
        &dir,
        &(0..20_000)
            .map(|i| {
                Entry::new(
                    now - 5 * 60_000_000 + i * 100,
                    "mastodon-streaming.service",
                    3,
                    format!("Tried writing to closed socket #{i}"),
                )
            })
            .collect::<Vec<_>>(),
    );
    let mut host = sshd.host("streaming-1");
    host.journal_directory = Some(dir.display().to_string());
    let readers = LogReaders::live(Config {
        ssh: sshd.ssh_config(),
        hosts: vec![host],
        ..Config::default()
    });
    let mut pane = LogsPane::default();
    pane.ring_lines = 5_000;
    let (generation, mut read) = opened(
        &mut pane,
        target("streaming-1", &["mastodon-streaming.service"]),
        true,
    );
    read.max_lines = 20_000;
    let (tx, mut rx) = mpsc::channel(mastop::tui::run::LOG_QUEUE);
    let reading = {
        let readers = readers.clone();
        tokio::spawn(async move { readers.stream(read, tx).await })
    };
    let mut events = 0;
    let mut told_dropped = 0;
    loop {
        let received = pane.view.as_ref().map_or(0, |v| v.buffer.received());
        if received >= 20_000 {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(event)) => {
                events += 1;
                if let LogEvent::Lines { dropped, .. } = &event {
                    told_dropped += dropped;
                }
                if let LogEvent::Failed(e) | LogEvent::Ended(e) = &event {
                    panic!("the follow stopped: {e}");
                }
                pane.receive(generation, event);
            }
            other => panic!("lines unaccounted for after {received}: {other:?}"),
        }
    }
    let logs = pane.view.as_ref().expect("open");
    assert_eq!(logs.buffer.received(), 20_000);
    assert_eq!(logs.buffer.len(), 5_000);
    assert_eq!(logs.buffer.dropped(), 15_000);
    assert!(told_dropped <= 15_000, "{told_dropped}");
    assert!(events >= 2, "a flood arrives in batches");

    // The view goes on after the flood: a line written now arrives.
    write_journal(
        &dir,
        &[Entry::new(
            now_us(),
            "mastodon-streaming.service",
            2,
            "appended after the flood",
        )],
    );
    loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(event)) => {
                let arrived = matches!(&event, LogEvent::Lines { lines, .. }
                    if lines.iter().any(|l| l.message == "appended after the flood"));
                pane.receive(generation, event);
                if arrived {
                    break;
                }
            }
            other => panic!("the appended line never came: {other:?}"),
        }
    }
    let logs = pane.view.as_ref().expect("open");
    assert_eq!(logs.buffer.received(), 20_001);
    reading.abort();
}
