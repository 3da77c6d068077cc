//! What leaves the collector, proven on real servers: production holds members' data and
//! hostile text where a poll reads it (a running query's literals and comments, queued and
//! retried Sidekiq jobs' arguments and error messages, escape sequences in all of them),
//! the collector publishes for a while, and then no row of any table of the ops store holds
//! a byte of it.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use mastop::config::Config;
use mastop::engine::{Engine, Options};
use mastop::live::collector::collect;
use mastop::live::watch::Watcher;
use support::{Postgres, Redis};
use tokio_util::sync::CancellationToken;

use super::live::{guarded, store};

/// In every planted text; nothing mastop writes contains it.
const MARK: &str = "zqleak";

fn engine(pg: &Postgres, redis: &Redis) -> Engine {
    let toml = format!(
        "[defaults]\ncadence = \"250ms\"\ndeadline = \"5s\"\n\
         [[postgres]]\nname = \"primary\"\nurl = \"{}\"\n\
         [[redis]]\nname = \"cache\"\nurl = \"{}\"\n\
         [[sidekiq]]\nname = \"main\"\nurl = \"{}\"\n",
        pg.url(),
        redis.url(),
        redis.url()
    );
    let (cfg, _): (Config, _) =
        mastop::config::load_str(&toml, "t.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(
        cfg,
        Options {
            readonly: true,
            demo: None,
        },
    )
}

/// A Sidekiq job whose arguments are a member's data, escape sequences included.
fn job(jid: &str, now: f64, error: bool) -> String {
    let mut job = serde_json::json!({
        "class": "ActionMailer::MailDeliveryJob",
        "queue": "mailers",
        "jid": jid,
        "args": [
            format!("{MARK}-alice@example.org"),
            format!("\u{1b}]52;c;{MARK}\u{7}"),
            {"token": format!("Bearer {MARK}-token"), "dm": format!("{MARK} private words")}
        ],
        "created_at": now - 120.0,
        "enqueued_at": now - 60.0,
    });
    if error {
        job["error_class"] = "Net::SMTPFatalError".into();
        job["error_message"] = format!("550 {MARK}-bob@example.org rejected \u{1b}[2J").into();
        job["failed_at"] = (now - 30.0).into();
        job["retry_count"] = 2.into();
    }
    job.to_string()
}

fn plant_jobs(redis: &Redis) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    for args in [
        vec!["SADD".to_string(), "queues".into(), "mailers".into()],
        vec![
            "LPUSH".into(),
            "queue:mailers".into(),
            job("a1b2c3d4e5f6a7b8c9d0e1f2", now, false),
        ],
        vec![
            "ZADD".into(),
            "retry".into(),
            format!("{:.3}", now + 600.0),
            job("f1e2d3c4b5a6f7e8d9c0b1a2", now, true),
        ],
        vec![
            "ZADD".into(),
            "dead".into(),
            format!("{:.3}", now - 600.0),
            job("0a1b2c3d4e5f6a7b8c9d0e1f", now, true),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = redis.cli(&args);
        assert!(!out.contains("ERR"), "{args:?}: {out}");
    }
}

/// Every row of every table of the store's schema, as text.
async fn everything_stored(store_pg: &Postgres) -> String {
    let c = store_pg.client().await;
    let tables: Vec<String> = c
        .query(
            "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .await
        .expect("list the store's tables")
        .iter()
        .map(|r| r.get("t"))
        .collect();
    assert!(
        tables.iter().any(|t| t.ends_with("mastop_live_components")),
        "{tables:?}"
    );
    let mut all = String::new();
    for table in &tables {
        let row = c
            .query_one(
                &format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') AS rows FROM {table} t"),
                &[],
            )
            .await
            .expect("read a table");
        all.push_str(&row.get::<_, String>("rows"));
        all.push('\n');
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_row_of_the_store_holds_a_byte_of_productions_private_data() {
    let store_pg = Postgres::start();
    let pg = Postgres::start();
    let redis = Redis::start();
    plant_jobs(&redis);
    // A running query whose literals and comment hold a member's data and escapes.
    let running = pg.client().await;
    let pid: i32 = running
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let sleeping = tokio::spawn(async move {
        running
            .simple_query(&format!(
                "SELECT pg_sleep(3600), '{MARK}-carol@example.org\u{1b}]0;owned\u{7}' /* {MARK} dm text */"
            ))
            .await
    });

    let collector_store = Arc::new(store(&store_pg).await);
    let engine = engine(&pg, &redis);
    let stop = CancellationToken::new();
    let collecting = {
        let (store, stop) = (Arc::clone(&collector_store), stop.clone());
        tokio::spawn(async move { collect(&engine, &store, "collector-test", &stop).await })
    };

    // Until the room shows what was planted, counted: the running query among the active
    // sessions, the queued job, the retry and the dead job.
    let reader = store(&store_pg).await;
    let mut watcher = Watcher::new(Default::default(), Default::default());
    let mut last = String::new();
    let polled = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            watcher
                .catch_up(&reader)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let json = |id: &str| {
                watcher
                    .fleet()
                    .components()
                    .iter()
                    .find(|c| c.meta.id.as_str() == id)
                    .and_then(|c| c.reading.as_ref().map(|r| r.to_json()))
            };
            let pg_seen = json("postgres/primary")
                .is_some_and(|j| j["sessions"]["active"].as_i64().unwrap_or(0) >= 1);
            let jobs_seen = json("sidekiq/main").is_some_and(|j| {
                j["enqueued"].as_u64() == Some(1)
                    && j["retries"].as_u64() == Some(1)
                    && j["dead"].as_u64() == Some(1)
            });
            if pg_seen && jobs_seen {
                break;
            }
            last = format!(
                "postgres sessions {}\nsidekiq {}",
                json("postgres/primary").map_or(serde_json::Value::Null, |j| j["sessions"].clone()),
                json("sidekiq/main").map_or(serde_json::Value::Null, |j| {
                    serde_json::json!({"enqueued": j["enqueued"], "retries": j["retries"], "dead": j["dead"], "problems": j["problems"]})
                })
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        polled.is_ok(),
        "the planted data was never all polled; last seen:\n{last}"
    );
    // The planted query really was what production showed while it was polled.
    let shown: String = pg
        .client()
        .await
        .query_one("SELECT query FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .await
        .expect("the running query")
        .get(0);
    assert!(shown.contains(MARK), "{shown}");

    stop.cancel();
    let tally = guarded("collector stops", collecting)
        .await
        .expect("collector task");
    assert!(tally.published >= 3, "{tally:?}");

    let stored = everything_stored(&store_pg).await;
    assert!(stored.contains("postgres/primary") && stored.contains("sidekiq/main"));
    for needle in [MARK, "example.org", "Bearer", "\u{1b}", "\\u001b", "owned"] {
        assert!(
            !stored.contains(needle),
            "the store holds {needle:?}:\n{}",
            stored
                .lines()
                .filter(|l| l.contains(needle))
                .map(|l| l.chars().take(400).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    pg.psql(&format!("SELECT pg_cancel_backend({pid})"));
    let _ = guarded("the planted query ends", sleeping).await;
}
