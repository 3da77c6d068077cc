//! Cost of one Sidekiq stats refresh against a real Redis (started by the test harness)
//! whose `pull` queue holds 10^2 jobs, then 10^6. The refresh reads only counters, set
//! sizes and each queue's length and oldest job, so both should cost the same: if the
//! 10^6 figure grows, something on the poll path walks the list.
//!
//! Run with `cargo bench --bench sidekiq`; needs the Debian package `redis-server`.

#[path = "../tests/support/mod.rs"]
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

criterion_group!(benches, refresh);
criterion_main!(benches);
