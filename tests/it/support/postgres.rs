//! A throwaway PostgreSQL cluster: `initdb` into a temp dir, `postgres` on a free port.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::process::{START_TIMEOUT, ServerProcess, free_port, log_tail};

/// The superuser every harness cluster is created with (trust auth, no password).
pub const SUPERUSER: &str = "mastop_test";
const PORT_ATTEMPTS: usize = 5;

/// Server settings a test may change; `Options::default()` is what `Postgres::start` uses.
#[derive(Clone, Debug)]
pub struct Options {
    pub max_connections: u32,
    /// `shared_preload_libraries`, e.g. `["pg_stat_statements"]`.
    pub preload: Vec<String>,
    /// Further `-c name=value` settings.
    pub settings: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_connections: 40,
            preload: Vec::new(),
            settings: Vec::new(),
        }
    }
}

pub struct Postgres {
    server: ServerProcess,
    port: u16,
    bin: PathBuf,
    options: Options,
    // Dropped after `server` is stopped (see Drop), which removes the cluster's files.
    dir: TempDir,
}

/// Where PostgreSQL puts its binaries on Debian: `/usr/lib/postgresql/<major>/bin`. The
/// newest major wins. `root` is a parameter so the missing-package message can be tested.
pub fn find_pg_bin_dir(root: &Path) -> Result<PathBuf, String> {
    let missing = || {
        format!(
            "PostgreSQL server binaries (initdb, postgres, psql) not found under {}/*/bin: \
             install the Debian package `postgresql` (apt-get install postgresql)",
            root.display()
        )
    };
    let entries = std::fs::read_dir(root).map_err(|_| missing())?;
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in entries.flatten() {
        let Some(major) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let bin = entry.path().join("bin");
        let complete = ["initdb", "postgres", "psql"]
            .iter()
            .all(|b| bin.join(b).is_file());
        if complete && best.as_ref().is_none_or(|(m, _)| major > *m) {
            best = Some((major, bin));
        }
    }
    best.map(|(_, bin)| bin).ok_or_else(missing)
}

/// PostgreSQL refuses to run as root; when the tests do, the cluster belongs to `postgres`.
fn server_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(user)) => Some((user.uid.as_raw(), user.gid.as_raw())),
        _ => panic!(
            "tests run as root, and PostgreSQL refuses to run as root, but there is no `postgres` \
             system user to run it as: install the Debian package `postgresql`, which creates it"
        ),
    }
}

fn command_as(program: PathBuf, user: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
        // initdb and postgres look at HOME and the cwd; root's are not readable by postgres.
        cmd.env("HOME", "/tmp").current_dir("/tmp");
    }
    cmd
}

/// The binaries, the OS user to run them as, and a temp dir that user may write.
fn prepare() -> (PathBuf, Option<(u32, u32)>, TempDir) {
    let bin = find_pg_bin_dir(Path::new("/usr/lib/postgresql")).unwrap_or_else(|e| panic!("{e}"));
    let user = server_user();
    let dir = tempfile::Builder::new()
        .prefix("mastop-pg-")
        .tempdir()
        .expect("create a temp dir for PostgreSQL");
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .expect("hand the temp dir to the postgres user");
    }
    (bin, user, dir)
}

enum StartError {
    PortTaken,
    Other(String),
}

impl Postgres {
    /// Starts a fresh cluster or panics with the reason and the server log.
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts a fresh cluster with `options`.
    pub fn start_with(options: Options) -> Self {
        let (bin, user, dir) = prepare();
        let data = dir.path().join("data");
        let out = command_as(bin.join("initdb"), user)
            .arg("-D")
            .arg(&data)
            .args([
                "--auth=trust",
                "-U",
                SUPERUSER,
                "--no-sync",
                "--no-instructions",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        if !out.status.success() {
            panic!(
                "initdb failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Self::launch(bin, user, dir, options)
    }

    /// Starts a streaming replica of this cluster (a hot standby, so it answers queries).
    pub fn start_replica(&self) -> Self {
        let (bin, user, dir) = prepare();
        let out = command_as(bin.join("pg_basebackup"), user)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-R", "-X", "stream", "--no-sync", "-w"])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_basebackup");
        if !out.status.success() {
            panic!(
                "pg_basebackup failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // A hot standby needs at least the primary's max_connections.
        Self::launch(bin, user, dir, self.options.clone())
    }

    fn launch(bin: PathBuf, user: Option<(u32, u32)>, dir: TempDir, options: Options) -> Self {
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match Self::spawn(&bin, user, dir.path(), port, &options) {
                Ok(server) => {
                    return Postgres {
                        server,
                        port,
                        bin,
                        options,
                        dir,
                    };
                }
                Err(StartError::PortTaken) => {
                    last_error = format!("port {port} was taken before PostgreSQL bound it")
                }
                Err(StartError::Other(e)) => panic!("{e}"),
            }
        }
        panic!(
            "PostgreSQL could not bind a free port in {PORT_ATTEMPTS} attempts; last: {last_error}"
        );
    }

    fn spawn(
        bin: &Path,
        user: Option<(u32, u32)>,
        dir: &Path,
        port: u16,
        options: &Options,
    ) -> Result<ServerProcess, StartError> {
        let data = dir.join("data");
        let mut settings: Vec<String> = vec![
            "-c".into(),
            format!("max_connections={}", options.max_connections),
        ];
        if !options.preload.is_empty() {
            settings.push("-c".into());
            settings.push(format!(
                "shared_preload_libraries={}",
                options.preload.join(",")
            ));
        }
        for (name, value) in &options.settings {
            settings.push("-c".into());
            settings.push(format!("{name}={value}"));
        }
        let log_path = dir.join(format!("server-{port}.log"));
        // Appended to, so a restarted server's log follows the stopped one's.
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("create the PostgreSQL log file");
        let log_err = log.try_clone().expect("clone the log file handle");
        let child = command_as(bin.join("postgres"), user)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "shared_buffers=16MB"])
            .args(&settings)
            .args(["-c", "logging_collector=off"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("spawn postgres");
        // SIGINT is PostgreSQL's "fast" shutdown: it ends sessions instead of waiting for them.
        let mut server = ServerProcess::new(child, Signal::SIGINT);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.exited() {
                let tail = log_tail(&log_path, 30);
                if tail.contains("could not bind") || tail.contains("already in use") {
                    return Err(StartError::PortTaken);
                }
                return Err(StartError::Other(format!(
                    "postgres exited during startup ({status}); log:\n{tail}"
                )));
            }
            // Ask over TCP which data directory answers: only ours counts as ready.
            if let Ok(out) =
                psql_command(bin, port, SUPERUSER, "postgres", "SHOW data_directory").output()
                && out.status.success()
            {
                let answered = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if Path::new(&answered) == data {
                    return Ok(server);
                }
                server.stop();
                return Err(StartError::PortTaken);
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(StartError::Other(format!(
                    "PostgreSQL did not accept connections on 127.0.0.1:{port} within {}s; log:\n{}",
                    START_TIMEOUT.as_secs(),
                    log_tail(&log_path, 30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (a fast shutdown: sessions are ended), keeping its data, port and
    /// dir for [`Postgres::restart`].
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Restarts the server on the same port and data with other settings.
    pub fn restart_with(&mut self, options: Options) {
        self.options = options;
        self.restart();
    }

    /// Starts the server again on the same port and data after [`Postgres::stop`], and
    /// returns once it accepts connections.
    pub fn restart(&mut self) {
        self.server.stop();
        match Self::spawn(
            &self.bin,
            server_user(),
            self.dir.path(),
            self.port,
            &self.options,
        ) {
            Ok(server) => self.server = server,
            Err(StartError::PortTaken) => {
                panic!("port {} was taken while PostgreSQL was stopped", self.port)
            }
            Err(StartError::Other(e)) => panic!("{e}"),
        }
    }

    /// `postgres://mastop_test@127.0.0.1:PORT/postgres` (superuser, trust auth).
    pub fn url(&self) -> String {
        self.url_as(SUPERUSER)
    }

    pub fn url_as(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs SQL as the superuser and returns psql's unaligned, tuples-only output.
    /// Panics with psql's error when the SQL fails.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_as(SUPERUSER, sql)
    }

    pub fn psql_as(&self, user: &str, sql: &str) -> String {
        match self.try_psql_as(user, sql) {
            Ok(out) => out,
            Err(e) => panic!("psql as {user} failed for `{sql}`: {e}"),
        }
    }

    pub fn try_psql_as(&self, user: &str, sql: &str) -> Result<String, String> {
        let out: Output = psql_command(&self.bin, self.port, user, "postgres", sql)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// An async superuser session; its connection task runs on the current tokio runtime.
    pub async fn client(&self) -> tokio_postgres::Client {
        self.client_as(SUPERUSER).await
    }

    pub async fn client_as(&self, user: &str) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.url_as(user), tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connect to the test PostgreSQL as {user}: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Makes `user` log in with its password over TCP (the cluster trusts everyone else),
    /// and waits until the server applies it.
    pub fn require_password(&self, user: &str) {
        let hba = self.dir.path().join("data").join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        // The first matching line wins, so the new rule goes on top.
        let rules = format!("host all {user} 127.0.0.1/32 scram-sha-256\n{rules}");
        std::fs::write(&hba, rules).expect("write pg_hba.conf");
        self.psql("SELECT pg_reload_conf()");
        let deadline = Instant::now() + START_TIMEOUT;
        while self.try_psql_as(user, "SELECT 1").is_ok() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not apply the new pg_hba.conf rule for {user}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The whole server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("server-{}.log", self.port)))
            .unwrap_or_default()
    }

    /// The end of the server log, for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(
            &self.dir.path().join(format!("server-{}.log", self.port)),
            30,
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.server.stop();
        // `dir` is removed when the field drops, right after this.
    }
}

fn psql_command(bin: &Path, port: u16, user: &str, db: &str, sql: &str) -> Command {
    let mut cmd = Command::new(bin.join("psql"));
    cmd.args([
        "-X",
        "-q",
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
    ])
    .args(["-p", &port.to_string(), "-U", user, "-d", db, "-c", sql])
    // Never prompt for a password: a role that needs one simply fails.
    .arg("-w")
    .env("PGCONNECT_TIMEOUT", "5")
    .env_remove("PGPASSWORD")
    .env_remove("PGSERVICE")
    .stdin(Stdio::null());
    cmd
}
