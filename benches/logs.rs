//! A log flood: 10,000 journalctl JSON lines parsed, pushed into a 10,000-line buffer with
//! signature counting, and the 60 lines a 200x60 screen holds made shown (sanitised and
//! redacted). Targets: a 10,000 lines/s flood costs well under a second of one core per
//! second; the lines of one frame are made shown in well under 2 ms. Also the host poll's
//! once-a-minute signature count at its line cap (5,000 lines parsed and counted), and the
//! demo's per-host count of a minute of its scripted journal.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::logs::buffer::LogBuffer;
use mastop::logs::journal::{parse_all, parse_line};
use mastop::logs::signatures::Signatures;

const LINES: usize = 10_000;

fn flood() -> Vec<String> {
    (0..LINES)
        .map(|i| {
            let message = match i % 4 {
                0 => format!(
                    "Started GET \"/api/v1/timelines/home?max_id={i}\" for 203.0.113.{} at 2026-12-03 12:00:00 +0000",
                    i % 250
                ),
                1 => "ERR! Tried writing to closed socket".to_string(),
                2 => format!(
                    "Redis::CannotConnectError: Error connecting to Redis on 10.0.0.5:6379 jid=abcdef0123456789{i:08x}"
                ),
                _ => format!("mail to user{i}@example.org delivered in 12ms"),
            };
            serde_json::json!({
                "__REALTIME_TIMESTAMP": (1_700_000_000_000_000_i64 + i as i64 * 100).to_string(),
                "_SYSTEMD_UNIT": "mastodon-streaming.service",
                "PRIORITY": "3",
                "MESSAGE": message,
            })
            .to_string()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let raw = flood();
    let signatures = Signatures::shipped();
    c.bench_function("logs: parse + push 10,000 lines", |b| {
        b.iter(|| {
            let mut buffer = LogBuffer::new(LINES);
            for line in &raw {
                if let Ok(l) = parse_line("streaming-1", line) {
                    buffer.push(l, &signatures);
                }
            }
            black_box(buffer.len())
        })
    });
    let mut buffer = LogBuffer::new(LINES);
    for line in &raw {
        if let Ok(l) = parse_line("streaming-1", line) {
            buffer.push(l, &signatures);
        }
    }
    let capped_minute = raw[..mastop::sources::host::log_signatures::MAX_LINES].join("\n");
    c.bench_function(
        "logs: host signature count of a capped minute (5,000 lines)",
        |b| {
            b.iter(|| {
                let (lines, _) = parse_all("streaming-1", &capped_minute);
                black_box(signatures.rates(lines.iter().map(|l| l.message.as_str()), 5_000))
            })
        },
    );
    c.bench_function(
        "logs: demo signature count, streaming-1 in its flood",
        |b| b.iter(|| black_box(mastop::demo::logs::signature_rates("streaming-1", 500))),
    );
    c.bench_function("logs: 60 lines shown (sanitised + redacted)", |b| {
        b.iter(|| {
            let shown: Vec<String> = buffer
                .lines()
                .iter()
                .rev()
                .take(60)
                .map(|l| l.shown(false))
                .collect();
            black_box(shown)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
