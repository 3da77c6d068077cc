//! A throwaway Redis: `redis-server` on a free port, no persistence, in a temp dir.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::process::{START_TIMEOUT, ServerProcess, free_port, log_tail};

const PORT_ATTEMPTS: usize = 5;

pub struct Redis {
    server: ServerProcess,
    port: u16,
    password: Option<String>,
    server_bin: PathBuf,
    cli_bin: PathBuf,
    // Dropped after `server` is stopped (see Drop).
    dir: TempDir,
}

/// Finds a Redis binary (`redis-server` or `redis-cli`) in `dirs`, with a message naming the
/// Debian package when it is missing.
pub fn find_redis_bin(name: &str, dirs: &[&Path]) -> Result<PathBuf, String> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()).ok_or_else(|| {
        let package = if name == "redis-cli" { "redis-tools" } else { "redis-server" };
        format!(
            "`{name}` not found in {}: install the Debian package `{package}` (apt-get install redis-server)",
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        )
    })
}

fn bin_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

enum StartError {
    PortTaken,
    Other(String),
}

impl Redis {
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// A Redis that requires `password` (`requirepass`); `cli` authenticates with it.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_inner(Some(password.to_string()))
    }

    fn start_inner(password: Option<String>) -> Self {
        let dirs = bin_dirs();
        let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
        let server_bin = find_redis_bin("redis-server", &dirs).unwrap_or_else(|e| panic!("{e}"));
        let cli_bin = find_redis_bin("redis-cli", &dirs).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::Builder::new()
            .prefix("mastop-redis-")
            .tempdir()
            .expect("create a temp dir for Redis");
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match spawn(&server_bin, &cli_bin, dir.path(), port, password.as_deref()) {
                Ok(server) => {
                    return Redis {
                        server,
                        port,
                        password,
                        server_bin,
                        cli_bin,
                        dir,
                    };
                }
                Err(StartError::PortTaken) => {
                    last_error = format!("port {port} was taken before Redis bound it")
                }
                Err(StartError::Other(e)) => panic!("{e}"),
            }
        }
        panic!("Redis could not bind a free port in {PORT_ATTEMPTS} attempts; last: {last_error}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/` (any password is given separately, as mastop's config does).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server, keeping its port and dir for [`Redis::restart`].
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts the server again on the same port after [`Redis::stop`].
    pub fn restart(&mut self) {
        self.server.stop();
        match spawn(
            &self.server_bin,
            &self.cli_bin,
            self.dir.path(),
            self.port,
            self.password.as_deref(),
        ) {
            Ok(server) => self.server = server,
            Err(StartError::PortTaken) => {
                panic!("port {} was taken while Redis was stopped", self.port)
            }
            Err(StartError::Other(e)) => panic!("{e}"),
        }
    }

    /// Runs `redis-cli` with `args` and returns its raw output. Panics if redis-cli fails;
    /// a Redis error reply is returned as text (`ERR …`), as redis-cli prints it.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = cli_command(&self.cli_bin, self.port, self.password.as_deref())
            .args(args)
            .output()
            .expect("run redis-cli");
        if !out.status.success() {
            panic!(
                "redis-cli {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// An async connection (authenticated when the server has a password).
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let url = match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/", self.port),
            None => self.url(),
        };
        let client = redis::Client::open(url).expect("a valid Redis URL");
        // The harness writes large pipelines (an hour of metrics for hundreds of classes):
        // the client's default half-second answer deadline is a hang guard here instead.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(30)))
            .set_response_timeout(Some(std::time::Duration::from_secs(60)));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("connect to the test Redis")
    }

    pub fn log_tail(&self) -> String {
        log_tail(
            &self.dir.path().join(format!("redis-{}.log", self.port)),
            30,
        )
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.server.stop();
    }
}

fn spawn(
    server_bin: &Path,
    cli_bin: &Path,
    dir: &Path,
    port: u16,
    password: Option<&str>,
) -> Result<ServerProcess, StartError> {
    let log_path = dir.join(format!("redis-{port}.log"));
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("create the Redis log file");
    let log_err = log.try_clone().expect("clone the log file handle");
    let mut cmd = Command::new(server_bin);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .arg("--dir")
    .arg(dir)
    .args(["--daemonize", "no", "--logfile", ""]);
    if let Some(pw) = password {
        cmd.args(["--requirepass", pw]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .expect("spawn redis-server");
    let mut server = ServerProcess::new(child, Signal::SIGTERM);
    let pid = server.pid().unwrap_or_default();

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = server.exited() {
            let tail = log_tail(&log_path, 30);
            if tail.contains("already in use")
                || tail.contains("Could not create server TCP listening socket")
            {
                return Err(StartError::PortTaken);
            }
            return Err(StartError::Other(format!(
                "redis-server exited during startup ({status}); log:\n{tail}"
            )));
        }
        // Only a server reporting our child's pid counts as ready.
        if let Ok(out) = cli_command(cli_bin, port, password)
            .args(["INFO", "server"])
            .output()
            && out.status.success()
        {
            let info = String::from_utf8_lossy(&out.stdout);
            if info
                .lines()
                .any(|l| l.trim() == format!("process_id:{pid}"))
            {
                return Ok(server);
            }
            if info.contains("process_id:") {
                server.stop();
                return Err(StartError::PortTaken);
            }
        }
        if Instant::now() > deadline {
            server.stop();
            return Err(StartError::Other(format!(
                "Redis did not answer on 127.0.0.1:{port} within {}s; log:\n{}",
                START_TIMEOUT.as_secs(),
                log_tail(&log_path, 30)
            )));
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn cli_command(cli_bin: &Path, port: u16, password: Option<&str>) -> Command {
    let mut cmd = Command::new(cli_bin);
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .env_remove("REDISCLI_AUTH");
    if let Some(pw) = password {
        // The environment variable keeps redis-cli from warning about -a on the command line.
        cmd.env("REDISCLI_AUTH", pw);
    }
    cmd
}
