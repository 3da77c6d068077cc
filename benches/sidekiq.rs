//! Cost of one Sidekiq stats refresh against a real Redis (started by the test harness)
//! whose `pull` queue holds 10^2 jobs, then 10^6. The refresh reads only counters, set
//! sizes and each queue's length and oldest job, so both should cost the same: if the
//! 10^6 figure grows, something on the poll path walks the list.
//!
//! Browsing: one page of a 100,000-member retry set near its start and near its end, and
//! one class-filtered window. A page is `ZCARD` + a page-wide `ZRANGE` (O(log n + 50)), so
//! the deep page should cost what the first one costs; the filtered window reads 500
//! members and costs more, by the bytes.
//!
//! Run with `cargo bench --bench sidekiq`; needs the Debian package `redis-server`.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::config::EndpointConfig;
use mastop::sources::Schedule;
use mastop::sources::Source;
use mastop::sources::sidekiq::SidekiqSource;

/// Jobs are pushed in batches of this many per LPUSH.
const BATCH: usize = 10_000;

fn fill(rt: &tokio::runtime::Runtime, redis: &support::Redis, jobs: usize) {
    rt.block_on(async {
        let mut conn = redis.connection().await;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut pipe = redis::pipe();
        pipe.sadd("queues", &["default", "pull", "push"]).ignore();
        pipe.set("stat:processed", 12345).ignore();
        let _: () = pipe.query_async(&mut conn).await.expect("seed");
        let mut pushed = 0;
        while pushed < jobs {
            let n = BATCH.min(jobs - pushed);
            let batch: Vec<String> = (pushed..pushed + n)
                .map(|i| {
                    format!(
                        r#"{{"class":"LinkCrawlWorker","queue":"pull","jid":"{i:024x}","args":[{i}],"enqueued_at":{}}}"#,
                        now - 60.0
                    )
                })
                .collect();
            let _: () = redis::cmd("LPUSH")
                .arg("queue:pull")
                .arg(batch)
                .query_async(&mut conn)
                .await
                .expect("push jobs");
            pushed += n;
        }
    });
}

fn refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut group = c.benchmark_group("sidekiq_refresh");
    group.measurement_time(Duration::from_secs(5));
    for jobs in [100usize, 1_000_000] {
        let redis = support::Redis::start();
        fill(&rt, &redis, jobs);
        let endpoint: EndpointConfig =
            toml::from_str(&format!("name = \"main\"\nurl = \"{}\"\n", redis.url()))
                .expect("a valid endpoint");
        let mut source = SidekiqSource::new(
            &endpoint,
            Schedule {
                cadence: Duration::from_secs(2),
                deadline: Duration::from_secs(10),
            },
        );
        // Extras and history once, then only the stats refresh is measured.
        let day = Duration::from_secs(86_400);
        source.set_intervals(day, day);
        rt.block_on(source.poll()).expect("first poll");
        group.bench_function(format!("{jobs}_jobs"), |b| {
            b.iter(|| black_box(rt.block_on(source.poll()).expect("poll")))
        });
    }
    group.finish();
}

fn browse(c: &mut Criterion) {
    use mastop::sources::sidekiq::Browser;
    use mastop::sources::sidekiq::browse::{BrowseRequest, SetName};

    const MEMBERS: u64 = 100_000;
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let redis = support::Redis::start();
    rt.block_on(async {
        let mut conn = redis.connection().await;
        let mut at = 0;
        while at < MEMBERS {
            let chunk: Vec<(f64, String)> = (at..(at + 10_000).min(MEMBERS))
                .map(|i| {
                    let class = if i % 100 == 0 { "MailDeliveryJob" } else { "DeliveryWorker" };
                    (
                        1_800_000_000.0 + i as f64,
                        format!(
                            r#"{{"class":"{class}","queue":"push","jid":"{i:024x}","args":["https://example.com/users/{i}/inbox"],"error_class":"HTTP::TimeoutError","error_message":"timed out","retry_count":3,"failed_at":1795000000.5}}"#
                        ),
                    )
                })
                .collect();
            let _: i64 = redis::cmd("ZADD")
                .arg("retry")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .expect("fill the retry set");
            at += 10_000;
        }
    });
    let endpoint: EndpointConfig =
        toml::from_str(&format!("name = \"main\"\nurl = \"{}\"\n", redis.url()))
            .expect("a valid endpoint");
    let browser = Browser::for_endpoints(&[endpoint]);
    let mut group = c.benchmark_group("sidekiq_browse");
    group.measurement_time(Duration::from_secs(5));
    for (name, from, class) in [
        ("page_at_rank_0", 0, None),
        ("page_at_rank_99950", MEMBERS - 50, None),
        ("class_window_of_500", 50_000, Some("mail".to_string())),
    ] {
        let request = BrowseRequest::Set {
            set: SetName::Retry,
            page: 0,
            from,
            class,
        };
        rt.block_on(browser.browse("sidekiq/main", &request))
            .expect("first browse");
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    rt.block_on(browser.browse("sidekiq/main", &request))
                        .expect("browse"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, refresh, browse);
criterion_main!(benches);
