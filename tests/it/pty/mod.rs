//! Runs the real mastop binary in a pseudo-terminal and reads its screen through a terminal
//! emulator, because the raw output is cursor moves, not text.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// How long any wait may last before the test fails as hung. A bound against hangs, not a
/// speed assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

pub struct Console {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    _master: Box<dyn MasterPty + Send>,
    _home: tempfile::TempDir,
}

impl Console {
    /// Starts `mastop ARGS` at `cols`×`rows` with HOME and XDG dirs in a fresh temp dir, so
    /// nothing of the developer's own config or logs is read or written.
    pub fn start(args: &[&str], cols: u16, rows: u16) -> Console {
        Self::start_with(args, cols, rows, |_| {})
    }

    pub fn start_with(args: &[&str], cols: u16, rows: u16, prepare: impl FnOnce(&Path)) -> Console {
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_mastop"));
        cmd.args(args);
        Self::spawn(cmd, None, cols, rows, prepare)
    }

    /// An interactive bash with job control and a plain `$ ` prompt, in the same clean
    /// environment, for tests that need a shell around mastop (ctrl-z and `fg`).
    pub fn start_shell(cols: u16, rows: u16) -> Console {
        let mut cmd = CommandBuilder::new("bash");
        cmd.args(["--norc", "--noprofile", "-i"]);
        Self::spawn(cmd, Some("$ "), cols, rows, |_| {})
    }

    fn spawn(
        mut cmd: CommandBuilder,
        ps1: Option<&str>,
        cols: u16,
        rows: u16,
        prepare: impl FnOnce(&Path),
    ) -> Console {
        let home = tempfile::tempdir().expect("temp HOME");
        prepare(home.path());
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        cmd.env_clear();
        cmd.env("HOME", home.path());
        cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd.env("XDG_STATE_HOME", home.path().join("state"));
        cmd.env("XDG_DATA_HOME", home.path().join("data"));
        cmd.env("TERM", "xterm-256color");
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        if let Some(ps1) = ps1 {
            cmd.env("PS1", ps1);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn mastop");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let rows_nz = NonZeroU16::new(rows).expect("rows > 0");
        let cols_nz = NonZeroU16::new(cols).expect("cols > 0");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows_nz, cols_nz, 0)));
        let sink = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut parser) = sink.lock() {
                    parser.process(&buf[..n]);
                }
            }
        });
        Console {
            child,
            writer,
            screen,
            _master: pair.master,
            _home: home,
        }
    }

    /// The temporary HOME (its `data/` holds the local audit log).
    pub fn home(&self) -> &Path {
        self._home.path()
    }

    /// The demo's audit log, after checking that the demo left the real one alone.
    pub fn demo_audit(&self) -> std::io::Result<String> {
        assert!(
            !self.home().join("data/mastop/audit.jsonl").exists(),
            "the demo wrote into the real audit log"
        );
        std::fs::read_to_string(self.home().join("data/mastop/demo/audit.jsonl"))
    }

    pub fn contents(&self) -> String {
        self.screen
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    pub fn alternate_screen(&self) -> bool {
        self.screen
            .lock()
            .map(|p| p.screen().alternate_screen())
            .unwrap_or(false)
    }

    pub fn cursor_hidden(&self) -> bool {
        self.screen
            .lock()
            .map(|p| p.screen().hide_cursor())
            .unwrap_or(false)
    }

    /// Waits until the screen satisfies `what`; fails with the screen if it never does.
    pub fn wait_for(&self, label: &str, what: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.contents();
            if what(&screen) {
                return screen;
            }
            if start.elapsed() > HANG_GUARD {
                panic!("screen never showed {label}; it shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_for_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to pty");
        self.writer.flush().expect("flush pty");
    }

    pub fn pid(&self) -> i32 {
        self.child
            .process_id()
            .and_then(|p| i32::try_from(p).ok())
            .expect("child pid")
    }

    /// Waits for the process to end and returns whether it exited successfully.
    pub fn wait_exit(&mut self) -> bool {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the reader thread take the last bytes (the terminal restore).
                std::thread::sleep(Duration::from_millis(100));
                return status.success();
            }
            if start.elapsed() > HANG_GUARD {
                let _ = self.child.kill();
                panic!("mastop did not exit; screen:\n{}", self.contents());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The pid of the console's child process called `name` (mastop under the shell).
    pub fn wait_for_child_pid(&self, name: &str) -> i32 {
        let parent = self.pid();
        let start = Instant::now();
        loop {
            let children =
                std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
                    .unwrap_or_default();
            for pid in children
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == name {
                    return pid;
                }
            }
            assert!(
                start.elapsed() < HANG_GUARD,
                "no child called {name} under pid {parent}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A process's state letter from /proc (R, S, T for stopped…), or `?` once it is gone.
pub fn proc_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')')
        .next()
        .and_then(|rest| rest.trim().chars().next())
        .unwrap_or('?')
}
