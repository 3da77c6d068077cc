//! A real Sidekiq as a test peer: Debian's `ruby-sidekiq` (6.4.1) running `worker.rb`
//! against a harness Redis, plus `ruby -e` helpers that enqueue jobs with Sidekiq's own
//! client and print what Sidekiq's API (`Sidekiq::Stats`, `Queue`, `ProcessSet`) says.
//!
//! The Sidekiq process runs in its own process group and is stopped on drop (TERM, then
//! KILL), also when the test panics.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::process::{ServerProcess, log_tail};
use super::redis::Redis;

/// Job classes for the peer. SlowJob keeps a thread busy; FlakyJob fails into the retry
/// set for an hour; DoomedJob dies at once; FastJob does nothing.
const WORKER_RB: &str = r#"
require "sidekiq"
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)
REDIS = { url: ENV.fetch("REDIS_URL") }
Sidekiq.configure_client { |c| c.redis = REDIS }
Sidekiq.configure_server { |c| c.redis = REDIS }

class FastJob; include Sidekiq::Worker; def perform(n) = nil; end
class SlowJob; include Sidekiq::Worker; def perform(secs) = sleep(secs); end
class FlakyJob
  include Sidekiq::Worker
  sidekiq_options retry: 3, backtrace: 5
  sidekiq_retry_in { |count, ex| 3600 }
  def perform(x) = raise(ArgumentError, "boom #{x}")
end
class DoomedJob
  include Sidekiq::Worker
  sidekiq_options retry: 0
  def perform(x) = raise("dead on arrival #{x}")
end
"#;

/// Prints Sidekiq's own view as JSON, with the clock read around each latency so a test
/// can bound the time between its read and Sidekiq's.
const STATS_RB: &str = r##"
require "sidekiq/api"
require "json"
before = Time.now.to_f
s = Sidekiq::Stats.new
after = Time.now.to_f
out = {
  processed: s.processed, failed: s.failed, scheduled: s.scheduled_size,
  retries: s.retry_size, dead: s.dead_size, processes: s.processes_size,
  default_queue_latency: s.default_queue_latency, stats_before: before, stats_after: after,
  busy: s.workers_size, enqueued: s.enqueued,
}
out[:queues] = Sidekiq::Queue.all.map do |q|
  b = Time.now.to_f
  l = q.latency
  { name: q.name, size: q.size, latency: l, before: b, after: Time.now.to_f }
end
out[:process_set] = Sidekiq::ProcessSet.new.map do |p|
  { identity: p.identity, busy: p["busy"], concurrency: p["concurrency"], quiet: p["quiet"],
    tag: p["tag"], pid: p["pid"], hostname: p["hostname"], queues: p["queues"] }
end
out[:retry_keys] = Sidekiq::RetrySet.new.map { |e| "#{e.score}-#{e.jid}" }
out[:dead_keys] = Sidekiq::DeadSet.new.map { |e| "#{e.score}-#{e.jid}" }
puts JSON.generate(out)
"##;

/// Fails loudly, naming the Debian package, when Ruby's Sidekiq is not installed.
pub fn require_ruby_sidekiq() {
    let ok = Command::new("ruby")
        .args([
            "-e",
            "require 'sidekiq'; require 'sidekiq/api'; print Sidekiq::VERSION",
        ])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    let cli = Path::new("/usr/bin/sidekiq").is_file();
    assert!(
        ok && cli,
        "Ruby's Sidekiq is missing: install the Debian package `ruby-sidekiq` (apt-get install ruby-sidekiq)"
    );
}

pub struct SidekiqPeer {
    process: Option<ServerProcess>,
    dir: TempDir,
    redis_url: String,
}

impl SidekiqPeer {
    /// Writes `worker.rb` next to nothing else; the process is started by [`Self::run`].
    pub fn new(redis: &Redis) -> Self {
        require_ruby_sidekiq();
        let dir = tempfile::Builder::new()
            .prefix("mastop-sidekiq-")
            .tempdir()
            .expect("create a temp dir for Sidekiq");
        std::fs::write(dir.path().join("worker.rb"), WORKER_RB).expect("write worker.rb");
        SidekiqPeer {
            process: None,
            dir,
            redis_url: format!("redis://127.0.0.1:{}/0", redis.port()),
        }
    }

    fn worker(&self) -> PathBuf {
        self.dir.path().join("worker.rb")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("sidekiq.log")
    }

    /// Runs Ruby with `worker.rb` loaded (Sidekiq's client configured) and returns stdout.
    pub fn ruby(&self, code: &str) -> String {
        let out = Command::new("ruby")
            .arg("-r")
            .arg(self.worker())
            .args(["-e", code])
            .env("REDIS_URL", &self.redis_url)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run ruby");
        assert!(
            out.status.success(),
            "ruby failed ({}): {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            code
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sidekiq's own numbers, as JSON.
    pub fn api_stats(&self) -> serde_json::Value {
        let text = self.ruby(STATS_RB);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("stats JSON: {e}: {text}"))
    }

    /// Starts `sidekiq -r worker.rb` serving `queues` (`-q` arguments) with `concurrency`
    /// threads, tagged `harness`.
    pub fn run(&mut self, queues: &[&str], concurrency: u32) {
        let log = File::create(self.log()).expect("create the Sidekiq log");
        let log_err = log.try_clone().expect("clone the log handle");
        let mut cmd = Command::new("/usr/bin/sidekiq");
        cmd.arg("-r").arg(self.worker()).args([
            "-c",
            &concurrency.to_string(),
            "-t",
            "1",
            "-g",
            "harness",
        ]);
        for q in queues {
            cmd.args(["-q", q]);
        }
        let child = cmd
            .env("REDIS_URL", &self.redis_url)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .expect("spawn sidekiq");
        self.process = Some(ServerProcess::new(child, Signal::SIGTERM));
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.log(), 40)
    }

    /// Waits until `done` holds, polling Redis through `check`; panics with the Sidekiq
    /// log after `limit` (a hang guard, far above what a healthy run needs).
    pub fn wait_for(&mut self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if done() {
                return;
            }
            if let Some(p) = self.process.as_mut()
                && let Some(status) = p.exited()
            {
                panic!(
                    "sidekiq exited ({status}) while waiting for {what}; log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never saw {what}; sidekiq log:\n{}", self.log_tail());
    }
}

impl Drop for SidekiqPeer {
    fn drop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop();
        }
    }
}

/// A console showing one Sidekiq component (`sidekiq/main`) with `reading`, at a fixed
/// clock, opened on its detail view.
pub fn console_app(reading: mastop::sources::sidekiq::SidekiqReading) -> mastop::tui::app::App {
    use std::sync::Arc;

    use mastop::model::{ComponentId, ComponentMeta, Reading};
    use mastop::tui::app::{App, View};

    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let meta = ComponentMeta {
        id: ComponentId::new("sidekiq", "main"),
        kind: "sidekiq",
        region: "eu".into(),
        tags: vec![],
    };
    let reading: Arc<dyn Reading> = Arc::new(reading);
    let fleet = mastop::engine::poll::fleet_from(
        vec![(meta.clone(), reading)],
        at,
        std::time::Duration::from_secs(2),
        Default::default(),
    );
    let keymap = mastop::tui::keymap::Keymap::builtin("default").expect("default keymap");
    let theme = mastop::tui::theme::Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(fleet, keymap, theme, at);
    app.view = View::Detail(meta.id);
    app.rebuild();
    app
}

/// The console drawn on a `width`×`height` test terminal.
pub fn render(app: &mastop::tui::app::App, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .expect("test terminal");
    terminal
        .draw(|f| mastop::tui::views::draw(f, app))
        .expect("draw");
    terminal.backend().to_string()
}

/// `reading`'s detail view drawn with its first set table focused.
pub fn render_detail(
    reading: &mastop::sources::sidekiq::SidekiqReading,
    width: u16,
    height: u16,
) -> String {
    let mut app = console_app(reading.clone());
    focus_table(&mut app, "Retries");
    render(&app, width, height)
}

/// Moves the detail view's focus (`]`) to the table whose title starts with `prefix`.
pub fn focus_table(app: &mut mastop::tui::app::App, prefix: &str) {
    for _ in 0..20 {
        let focused = app.screens.detail.state.as_ref().and_then(|d| {
            mastop::tui::rows::detail::table_titles(&d.detail)
                .get(d.focus)
                .map(|t| t.to_string())
        });
        if focused.is_some_and(|t| t.starts_with(prefix)) {
            return;
        }
        app.apply(mastop::tui::command::Command::NextPane);
    }
    panic!("no table titled {prefix}…");
}
