//! Browsing Sidekiq's sets and busy jobs page by page against a real Redis: the right
//! members in Sidekiq's own order (checked against Sidekiq's `Paginator`), a bounded and
//! counted number of commands per request, class filters beyond the first page, namespaced
//! keys, and garbage members shown as unparseable and sanitised.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::{Reading, SectionBody};
use mastop::sources::sidekiq::browse::{BrowseRequest, Browsed, FILTER_WINDOW, PAGE, SetName};
use mastop::sources::sidekiq::{Browser, SidekiqReading};
use support::CountingProxy;
use support::Redis;
use support::sidekiq::SidekiqPeer;

const COMPONENT: &str = "sidekiq/main";
const BASE: u64 = 1_800_000_000;

fn endpoint(url: &str, namespace: Option<&str>) -> EndpointConfig {
    let ns = namespace.map_or_else(String::new, |n| format!("namespace = \"{n}\"\n"));
    toml::from_str(&format!("name = \"main\"\nurl = \"{url}\"\n{ns}"))
        .expect("a valid [[sidekiq]] entry")
}

fn jid(i: u64) -> String {
    format!("{i:024x}")
}

/// A failed job as Sidekiq 6.x writes it, with private arguments and error message.
fn job(i: u64, class: &str) -> String {
    serde_json::json!({
        "retry": 3,
        "queue": "default",
        "class": class,
        "args": [format!("private toot {i}")],
        "jid": jid(i),
        "created_at": 1_795_000_000.5,
        "enqueued_at": 1_795_000_000.5,
        "error_message": format!("boom for alice{i}@example.com"),
        "error_class": "ArgumentError",
        "failed_at": 1_795_000_001.5,
        "retry_count": 1
    })
    .to_string()
}

/// Fills `key` with `n` jobs, job `i` at score `BASE + i`, class from `class_of(i)`.
async fn fill(redis: &Redis, key: &str, n: u64, class_of: impl Fn(u64) -> &'static str) {
    let mut c = redis.connection().await;
    let items: Vec<(f64, String)> = (0..n)
        .map(|i| ((BASE + i) as f64, job(i, class_of(i))))
        .collect();
    for chunk in items.chunks(500) {
        let _: i64 = redis::cmd("ZADD")
            .arg(key)
            .arg(chunk)
            .query_async(&mut c)
            .await
            .expect("ZADD");
    }
}

async fn browse(browser: &Browser, request: BrowseRequest) -> Browsed {
    tokio::time::timeout(Duration::from_secs(30), browser.browse(COMPONENT, &request))
        .await
        .expect("a browse request hung past the hang guard")
        .unwrap_or_else(|e| panic!("browse failed: {e}"))
}

fn set_page(b: Browsed) -> mastop::sources::sidekiq::browse::SetBrowse {
    match b {
        Browsed::Set(s) => s,
        Browsed::Busy(_) => panic!("asked for a set page"),
    }
}

/// `INFO commandstats` as command → calls, without the INFO and CONFIG the test sends.
fn command_calls(redis: &Redis) -> BTreeMap<String, u64> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .filter(|(name, _)| !name.starts_with("info") && !name.starts_with("config"))
        .collect()
}

fn calls(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

/// Sidekiq's own Web UI pagination of `key` (page numbers from 1), as jids.
fn sidekiq_page(peer: &SidekiqPeer, key: &str, page: usize, reverse: bool) -> Vec<String> {
    let code = format!(
        "require 'sidekiq/paginator'; include Sidekiq::Paginator; \
         _, _, items = page('{key}', {page}, {PAGE}, reverse: {reverse}); \
         puts items.map {{ |m, _| JSON.parse(m)['jid'] }}.join(',')"
    );
    peer.ruby(&code)
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn page_three_of_a_thousand_is_exactly_sidekiqs_page_three_in_two_commands() {
    let redis = Redis::start();
    fill(&redis, "retry", 1000, |_| "FlakyJob").await;
    fill(&redis, "dead", 1000, |_| "DoomedJob").await;
    let proxy = CountingProxy::start(redis.port());
    let browser = Browser::for_endpoints(&[endpoint(
        &format!("redis://127.0.0.1:{}/", proxy.port()),
        None,
    )]);
    let peer = SidekiqPeer::new(&redis);

    for (set, key, reverse) in [
        (SetName::Retry, "retry", false),
        (SetName::Dead, "dead", true),
    ] {
        // The first request connects; count the one after it.
        let _ = browse(
            &browser,
            BrowseRequest::Set {
                set,
                page: 0,
                from: 0,
                class: None,
            },
        )
        .await;
        redis.cli(&["CONFIG", "RESETSTAT"]);
        proxy.reset();
        let page = set_page(
            browse(
                &browser,
                BrowseRequest::Set {
                    set,
                    page: 2,
                    from: 2 * PAGE as u64,
                    class: None,
                },
            )
            .await,
        );
        assert_eq!(proxy.round_trips(), 1, "{key}: one round trip per page");
        let range = if reverse { "zrevrange" } else { "zrange" };
        assert_eq!(
            command_calls(&redis),
            calls(&[("zcard", 1), (range, 1)]),
            "{key}: exactly ZCARD and one page-wide range"
        );
        assert_eq!(page.total, 1000);
        let got: Vec<String> = page.entries.iter().map(|e| e.jid.clone()).collect();
        let expected: Vec<String> = if reverse {
            (0..PAGE as u64).map(|k| jid(999 - 100 - k)).collect()
        } else {
            (0..PAGE as u64).map(|k| jid(100 + k)).collect()
        };
        assert_eq!(got, expected, "{key}: ranks 101–150 in listing order");
        assert_eq!(
            got,
            sidekiq_page(&peer, key, 3, reverse),
            "{key}: the same page Sidekiq's Web UI shows"
        );

        // Drawn and keyed like the first page, arguments and error messages hidden.
        let reading = SidekiqReading {
            retries: 1000,
            dead: 1000,
            ..SidekiqReading::default()
        }
        .with_browsed(&Browsed::Set(page));
        let detail = reading.detail();
        let title = detail
            .sections
            .iter()
            .map(|s| s.title.clone())
            .find(|t| t.starts_with(set.title()))
            .expect("the set's table");
        assert_eq!(
            title,
            format!("{} (page 3 of 20 · 101–150 of 1000)", set.title())
        );
        let shown = format!("{detail:?}");
        assert!(!shown.contains("private toot") && !shown.contains("alice"));
        let key_of_first = expected[0].clone();
        let revealable = detail
            .sections
            .iter()
            .find_map(|s| match &s.body {
                SectionBody::Table(t) if s.title == title => t.rows.first()?.key.clone(),
                _ => None,
            })
            .expect("a keyed row");
        assert!(revealable.ends_with(&key_of_first));
        let private = reading
            .private(&title, &revealable)
            .expect("the browsed row can be revealed (audited by the console)");
        assert!(private.contains("private toot"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_filter_finds_jobs_far_beyond_the_first_page_and_says_how_far_it_scanned() {
    let redis = Redis::start();
    redis.cli(&["CONFIG", "SET", "save", ""]);
    // Mailer jobs only at ranks 700, 710, … 990: none in the first window.
    fill(&redis, "mastodon:retry", 1000, |i| {
        if i >= 700 && i % 10 == 0 {
            "ActionMailer::MailDeliveryJob"
        } else {
            "ActivityPub::DeliveryWorker"
        }
    })
    .await;
    let browser = Browser::for_endpoints(&[endpoint(&redis.url(), Some("mastodon"))]);
    let ask = |from: u64, page: usize| BrowseRequest::Set {
        set: SetName::Retry,
        page,
        from,
        class: Some("maildelivery".into()),
    };
    let _ = browse(&browser, ask(0, 0)).await;
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let first = set_page(browse(&browser, ask(0, 0)).await);
    assert_eq!(
        command_calls(&redis),
        calls(&[("zcard", 1), ("zrange", 1)]),
        "one bounded window per request"
    );
    assert!(first.entries.is_empty());
    assert_eq!(first.view.next, FILTER_WINDOW as u64);
    assert!(first.view.scan_cut_short(0, first.total));
    let reading = SidekiqReading {
        retries: 1000,
        ..SidekiqReading::default()
    };
    let title = |b: &mastop::sources::sidekiq::browse::SetBrowse| {
        reading
            .with_browsed(&Browsed::Set(b.clone()))
            .detail()
            .sections
            .iter()
            .map(|s| s.title.clone())
            .find(|t| t.starts_with("Retries"))
            .expect("a retries table")
    };
    assert_eq!(
        title(&first),
        "Retries (class ~ maildelivery · page 1 · 0 found · scanned 500 of 1000: n for more)"
    );

    let second = set_page(browse(&browser, ask(first.view.next, 1)).await);
    let jids: Vec<String> = second.entries.iter().map(|e| e.jid.clone()).collect();
    let expected: Vec<String> = (70..100).map(|k| jid(k * 10)).collect();
    assert_eq!(jids, expected, "every Mailer job, in Sidekiq's order");
    assert!(
        second
            .entries
            .iter()
            .all(|e| e.class == "ActionMailer::MailDeliveryJob")
    );
    assert_eq!(second.view.next, 1000);
    assert_eq!(
        title(&second),
        "Retries (class ~ maildelivery · page 2 · 30 found · scanned 1000 of 1000)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_pages_read_only_the_work_hashes_they_show() {
    let redis = Redis::start();
    let mut c = redis.connection().await;
    let identities: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|h| format!("{h}-host:1:0123456789ab"))
        .collect();
    for (p, id) in identities.iter().enumerate() {
        for t in 0..20u64 {
            let payload = job(p as u64 * 100 + t, "SlowJob");
            let work = serde_json::json!({"queue": "default", "payload": payload, "run_at": 1_795_000_000})
                .to_string();
            let _: i64 = redis::cmd("HSET")
                .arg(format!("{id}:work"))
                .arg(format!("t{t:02}"))
                .arg(work)
                .query_async(&mut c)
                .await
                .expect("HSET");
        }
    }
    let browser = Browser::for_endpoints(&[endpoint(&redis.url(), None)]);
    let ask = |page: usize| BrowseRequest::Busy {
        page,
        identities: identities.clone(),
        suffixes: vec![":work"],
    };
    let _ = browse(&browser, ask(0)).await;
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let Browsed::Busy(page) = browse(&browser, ask(1)).await else {
        panic!("asked for busy jobs");
    };
    assert_eq!(
        command_calls(&redis),
        calls(&[("hlen", 3), ("hgetall", 1)]),
        "page 2 (jobs 51–60) lies in the third process only"
    );
    assert_eq!(page.total, 60);
    let threads: Vec<String> = page
        .jobs
        .iter()
        .map(|j| format!("{}/{}", &j.process[..1], j.thread))
        .collect();
    let expected: Vec<String> = (10..20).map(|t| format!("c/t{t}")).collect();
    assert_eq!(threads, expected);
    assert!(
        page.jobs
            .iter()
            .all(|j| j.class == "SlowJob" && !j.unreadable)
    );

    redis.cli(&["CONFIG", "RESETSTAT"]);
    let Browsed::Busy(first) = browse(&browser, ask(0)).await else {
        panic!("asked for busy jobs");
    };
    assert_eq!(first.jobs.len(), PAGE);
    assert_eq!(
        command_calls(&redis),
        calls(&[("hlen", 3), ("hgetall", 3)]),
        "jobs 1–50 span all three processes"
    );
    let reading = SidekiqReading {
        busy: 60,
        ..SidekiqReading::default()
    }
    .with_browsed(&Browsed::Busy(page));
    let titles: Vec<String> = reading
        .detail()
        .sections
        .iter()
        .map(|s| s.title.clone())
        .collect();
    assert!(
        titles.contains(&"Busy (page 2 of 2 · 51–60 of 60)".to_string()),
        "{titles:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_members_are_shown_as_unparseable_and_hostile_classes_as_text() {
    let redis = Redis::start();
    let mut c = redis.connection().await;
    let huge = format!(
        "{{\"class\":\"BigJob\",\"queue\":\"default\",\"jid\":\"{}\",\"args\":[\"{}\"]}}",
        jid(3),
        "x".repeat(10 * 1024 * 1024)
    );
    let hostile = serde_json::json!({
        "class": "Evil\u{1b}[2J\u{1b}]0;pwned\u{7}Job",
        "queue": "default",
        "jid": jid(4),
        "error_class": "Err\u{1b}[31m"
    })
    .to_string();
    let members: Vec<(f64, Vec<u8>)> = vec![
        (1.0, b"not json at all".to_vec()),
        (2.0, vec![0xff, 0xfe, b'{']),
        (3.0, huge.into_bytes()),
        (4.0, hostile.into_bytes()),
        (5.0, b"[1,2,3]".to_vec()),
    ];
    for (score, member) in &members {
        let _: i64 = redis::cmd("ZADD")
            .arg("retry")
            .arg(*score)
            .arg(member.as_slice())
            .query_async(&mut c)
            .await
            .expect("ZADD");
    }
    let browser = Browser::for_endpoints(&[endpoint(&redis.url(), None)]);
    let page = set_page(
        browse(
            &browser,
            BrowseRequest::Set {
                set: SetName::Retry,
                page: 0,
                from: 0,
                class: None,
            },
        )
        .await,
    );
    let unreadable: Vec<bool> = page.entries.iter().map(|e| e.unreadable).collect();
    assert_eq!(unreadable, vec![true, true, false, false, true]);
    assert_eq!(page.entries[2].class, "BigJob");
    assert!(
        page.problems
            .iter()
            .any(|p| p.contains("retry entries could not be read (×3)")),
        "{:?}",
        page.problems
    );

    // On screen: the hostile class without its escape sequences.
    let reading = SidekiqReading {
        retries: 5,
        ..SidekiqReading::default()
    }
    .with_browsed(&Browsed::Set(page));
    let screen = support::sidekiq::render_detail(&reading, 120, 40);
    assert!(screen.contains("unparseable"), "{screen}");
    assert!(!screen.contains('\u{1b}') && !screen.contains('\u{7}'));
    assert!(screen.contains("Evil"), "{screen}");

    // A class filter never matches an unreadable member.
    let filtered = set_page(
        browse(
            &browser,
            BrowseRequest::Set {
                set: SetName::Retry,
                page: 0,
                from: 0,
                class: Some("job".into()),
            },
        )
        .await,
    );
    let classes: Vec<&str> = filtered.entries.iter().map(|e| e.class.as_str()).collect();
    assert_eq!(
        classes,
        vec!["BigJob", "Evil\u{1b}[2J\u{1b}]0;pwned\u{7}Job"]
    );
}

/// In the console: `n` on the focused retries table asks for page 2, the page read from
/// the real Redis replaces the first page, the title says which page, and `c` filters by
/// class beyond the first page.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_pages_the_focused_set_and_titles_the_page() {
    use crossterm::event::{KeyCode, KeyEvent};
    use mastop::tui::app::Effect;

    let redis = Redis::start();
    fill(&redis, "retry", 120, |i| {
        if i % 40 == 39 {
            "ActionMailer::MailDeliveryJob"
        } else {
            "FlakyJob"
        }
    })
    .await;
    let browser = Browser::for_endpoints(&[endpoint(&redis.url(), None)]);
    let first = set_page(
        browse(
            &browser,
            BrowseRequest::Set {
                set: SetName::Retry,
                page: 0,
                from: 0,
                class: None,
            },
        )
        .await,
    );
    let reading = SidekiqReading {
        read_at: 1_795_000_000.0,
        retries: 120,
        retry_set: Some(mastop::sources::sidekiq::SetPage {
            total: 120,
            entries: first.entries,
            view: None,
        }),
        ..SidekiqReading::default()
    };
    let mut app = support::sidekiq::console_app(reading);
    support::sidekiq::focus_table(&mut app, "Retries");
    let screen = support::sidekiq::render(&app, 120, 40);
    assert!(screen.contains("Retries (first 50 of 120)"), "{screen}");

    // Runs what the event loop runs for a browse effect.
    async fn follow(app: &mut mastop::tui::app::App, browser: &Browser, effect: Effect) {
        let Effect::Browse(id, request) = effect else {
            panic!("expected a browse request, got {effect:?}");
        };
        let result = browser.browse(id.as_str(), &request).await;
        app.browse_done(&id, &request, result);
    }
    let effect = app.handle_key(KeyEvent::from(KeyCode::Char('n')));
    follow(&mut app, &browser, effect).await;
    let effect = app.handle_key(KeyEvent::from(KeyCode::Char('n')));
    follow(&mut app, &browser, effect).await;
    let screen = support::sidekiq::render(&app, 120, 40);
    assert!(
        screen.contains("Retries (page 3 of 3 · 101–120 of 120)"),
        "{screen}"
    );
    assert!(!screen.contains("private toot") && !screen.contains("alice"));
    let effect = app.handle_key(KeyEvent::from(KeyCode::Char('n')));
    assert_eq!(effect, Effect::None, "no page 4");
    insta::assert_snapshot!("sidekiq_retries_page_3_120x40", screen);

    // `c`, a class, enter: the class's jobs from the whole set.
    assert_eq!(
        app.handle_key(KeyEvent::from(KeyCode::Char('c'))),
        Effect::None
    );
    for ch in "mail".chars() {
        app.handle_key(KeyEvent::from(KeyCode::Char(ch)));
    }
    let effect = app.handle_key(KeyEvent::from(KeyCode::Enter));
    follow(&mut app, &browser, effect).await;
    let screen = support::sidekiq::render(&app, 120, 40);
    assert!(
        screen.contains("Retries (class ~ mail · page 1 · 3 found · scanned 120 of 120)"),
        "{screen}"
    );
    // esc leaves the browsed page for the poll's first page.
    app.handle_key(KeyEvent::from(KeyCode::Esc));
    let screen = support::sidekiq::render(&app, 120, 40);
    assert!(screen.contains("Retries (first 50 of 120)"), "{screen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_is_an_error_not_a_hang() {
    let hole = support::BlackHole::start();
    let browser = Browser::for_endpoints(&[endpoint(
        &format!("redis://127.0.0.1:{}/", hole.port()),
        None,
    )]);
    let request = BrowseRequest::Set {
        set: SetName::Dead,
        page: 1,
        from: 50,
        class: None,
    };
    let result = tokio::time::timeout(Duration::from_secs(60), browser.browse(COMPONENT, &request))
        .await
        .expect("the browse deadline ends the request");
    let err = result.expect_err("a black hole answers nothing");
    assert!(
        err.contains("sidekiq/main") || err.contains("127.0.0.1"),
        "{err}"
    );
    let unknown = browser.browse("sidekiq/other", &request).await;
    assert!(unknown.is_err_and(|e| e.contains("not a configured Sidekiq endpoint")));
}
