//! A real OpenSSH server on a free loopback port, with its own host key and one authorized
//! client key, serving this machine's real /proc. There is no systemd here, so the session's
//! PATH starts with a directory holding a `systemctl` and an `nginx` that answer from a
//! state file and log every argv they receive, element by element: that log proves what
//! reached the remote program, byte for byte.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mastop::config::{HostConfig, SshConfig};
use nix::sys::signal::Signal;

use super::process::{START_TIMEOUT, ServerProcess, free_port};

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    process: ServerProcess,
}

const SYSTEMCTL: &str = r#"#!/bin/sh
{ for a in "$@"; do printf '%s\037' "$a"; done; printf '\036'; } >> "$MASTOP_TEST_DIR/systemctl.log"
states="$MASTOP_TEST_DIR/units"
case "$1" in
  show)
    value=0; after=0
    for a in "$@"; do
      if [ "$after" = 1 ]; then
        found=0
        while read -r name active sub; do
          case "$name" in $a)
            found=1
            if [ "$value" = 1 ]; then echo loaded
            else printf 'Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=%s\n\n' "$name" "$active" "$sub"; fi ;;
          esac
        done < "$states"
        if [ "$found" = 0 ]; then
          case "$a" in
            *'*'*) ;;
            *) if [ "$value" = 1 ]; then echo not-found
               else printf 'Id=%s\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n\n' "$a"; fi ;;
          esac
        fi
      fi
      [ "$a" = "--value" ] && value=1
      [ "$a" = "--" ] && after=1
    done ;;
  list-units)
    while read -r name active sub; do
      [ "$active" = failed ] && printf '%s loaded failed failed %s\n' "$name" "$name"
    done < "$states" ;;
  reload|restart)
    [ -e "$MASTOP_TEST_DIR/slow" ] && sleep "$(cat "$MASTOP_TEST_DIR/slow")"
    [ -e "$MASTOP_TEST_DIR/refuse" ] && { echo "Job for $3 failed." >&2; exit 1; } ;;
esac
exit 0
"#;

const NGINX: &str = r#"#!/bin/sh
{ for a in "$@"; do printf '%s\037' "$a"; done; printf '\036'; } >> "$MASTOP_TEST_DIR/nginx.log"
if [ -e "$MASTOP_TEST_DIR/nginx-broken" ]; then
  echo 'nginx: [emerg] unknown directive "proxy_cache_pathh" in /etc/nginx/nginx.conf:31' >&2
  echo 'nginx: configuration file /etc/nginx/nginx.conf test failed' >&2
  exit 1
fi
echo 'nginx: the configuration file /etc/nginx/nginx.conf syntax is ok' >&2
echo 'nginx: configuration file /etc/nginx/nginx.conf test is successful' >&2
"#;

/// sshd's `ForceCommand`: the client's command line is in `SSH_ORIGINAL_COMMAND`, exactly
/// as sent; log it, then hand it to the login shell as sshd would have.
const LOG_COMMAND: &str = r#"#!/bin/sh
printf '%s\036' "$SSH_ORIGINAL_COMMAND" >> "$MASTOP_TEST_DIR/commands.log"
exec "${SHELL:-/bin/sh}" -c "$SSH_ORIGINAL_COMMAND"
"#;

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "mastop-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen (openssh-client must be installed)");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn write_exec(path: &Path, text: &str) {
    fs::write(path, text).expect("write a fake command");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod a fake command");
}

impl Sshd {
    /// Starts sshd; the units the fake systemctl knows are `name active sub` lines.
    pub fn start(units: &[(&str, &str, &str)]) -> Sshd {
        Sshd::start_with(units, false)
    }

    /// Like [`Sshd::start`], and every command line a client sends is logged exactly as it
    /// arrived (sshd's `SSH_ORIGINAL_COMMAND`) before the login shell runs it as usual.
    pub fn start_logging_commands(units: &[(&str, &str, &str)]) -> Sshd {
        Sshd::start_with(units, true)
    }

    fn start_with(units: &[(&str, &str, &str)], log_commands: bool) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (scripts/test.sh does)"
        );
        // sshd refuses to start without its privilege-separation directory.
        let _ = fs::create_dir_all("/run/sshd");
        // A short path: control sockets live under it and socket paths are ~100 bytes max.
        let dir = tempfile::Builder::new()
            .prefix("ms")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        fs::create_dir(d.join("bin")).expect("bin dir");
        write_exec(&d.join("bin/systemctl"), SYSTEMCTL);
        write_exec(&d.join("bin/nginx"), NGINX);
        write_exec(&d.join("log-command"), LOG_COMMAND);
        fs::create_dir(d.join("ctl")).expect("control dir");
        fs::write(d.join("ssh_config"), "").expect("empty ssh_config");
        let authorized = fs::read_to_string(d.join("client_key.pub")).expect("client pub key");
        fs::write(d.join("authorized_keys"), authorized).expect("authorized_keys");
        let sshd = Sshd::spawn(dir, log_commands);
        sshd.set_units(units);
        sshd.trust_host_key();
        sshd
    }

    fn spawn(dir: tempfile::TempDir, log_commands: bool) -> Sshd {
        let d = dir.path().to_path_buf();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let port = free_port();
            // sshd runs every command through the login shell, and bash then reads
            // ~/.bashrc: HOME in the temp dir keeps this machine's own rc files (a pyenv
            // init forking a dozen processes per command) out of what the tests measure.
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\n\
                 SetEnv PATH={d}/bin:/usr/sbin:/usr/bin:/sbin:/bin MASTOP_TEST_DIR={d} HOME={d}\n\
                 MaxStartups 400:30:500\nMaxSessions 64\nLogLevel ERROR\n{force}",
                d = d.display(),
                force = if log_commands {
                    format!("ForceCommand {}/log-command\n", d.display())
                } else {
                    String::new()
                }
            );
            fs::write(d.join("sshd_config"), config).expect("sshd_config");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    fs::File::create(d.join("sshd.log"))
                        .map(Stdio::from)
                        .unwrap_or_else(|_| Stdio::null()),
                )
                .spawn()
                .expect("start sshd");
            let mut process = ServerProcess::new(child, Signal::SIGTERM);
            loop {
                if let Some(status) = process.exited() {
                    let log = fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
                    if log.contains("Address already in use") && Instant::now() < deadline {
                        break;
                    }
                    panic!("sshd exited ({status}) at start:\n{log}");
                }
                if banner(port).is_some() {
                    return Sshd { dir, port, process };
                }
                assert!(Instant::now() < deadline, "sshd did not come up on {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// Records the real host key for `[127.0.0.1]:port`, as an operator would after
    /// verifying it.
    pub fn trust_host_key(&self) {
        let key = fs::read_to_string(self.dir().join("host_key.pub")).expect("host pub key");
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        fs::write(
            self.known_hosts(),
            format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")),
        )
        .expect("known_hosts");
    }

    /// Records some other key for this host: what a changed (or spoofed) host looks like.
    pub fn record_wrong_host_key(&self) {
        let other = self.dir().join("other_key");
        if !other.exists() {
            keygen(&other);
        }
        let key = fs::read_to_string(other.with_extension("pub")).expect("other pub key");
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        fs::write(
            self.known_hosts(),
            format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")),
        )
        .expect("known_hosts");
    }

    pub fn forget_host_keys(&self) {
        fs::write(self.known_hosts(), "").expect("empty known_hosts");
    }

    pub fn set_units(&self, units: &[(&str, &str, &str)]) {
        let text: String = units
            .iter()
            .map(|(n, a, s)| format!("{n} {a} {s}\n"))
            .collect();
        fs::write(self.dir().join("units"), text).expect("unit states");
    }

    /// Makes `systemctl reload|restart` fail, like a unit whose reload is refused.
    pub fn refuse_unit_changes(&self) {
        fs::write(self.dir().join("refuse"), "").expect("refuse flag");
    }

    /// Makes `systemctl reload|restart` take `seconds`, like a unit slow to come back.
    pub fn slow_unit_changes(&self, seconds: u32) {
        fs::write(self.dir().join("slow"), seconds.to_string()).expect("slow flag");
    }

    /// The `[ssh]` section and one `[[host]]` entry for this server, as config text.
    pub fn config_toml(&self, host: &str, roles: &[&str]) -> String {
        let ssh = self.ssh_config();
        let path = |p: Option<PathBuf>| p.map(|p| p.display().to_string()).unwrap_or_default();
        format!(
            "[ssh]\nknown_hosts = \"{}\"\nconfig_file = \"{}\"\nidentity_file = \"{}\"\nuser = \"{}\"\ncontrol_dir = \"{}\"\n\n\
             [[host]]\nname = \"{host}\"\naddress = \"127.0.0.1\"\nport = {}\nroles = {:?}\ndeadline = \"10s\"\n",
            path(ssh.known_hosts),
            path(ssh.config_file),
            path(ssh.identity_file),
            ssh.user.unwrap_or_default(),
            path(ssh.control_dir),
            self.port,
            roles,
        )
    }

    pub fn break_nginx_config(&self) {
        fs::write(self.dir().join("nginx-broken"), "").expect("nginx-broken flag");
    }

    /// Every argv the fake `systemctl` received, oldest first.
    pub fn systemctl_calls(&self) -> Vec<Vec<String>> {
        calls(&self.dir().join("systemctl.log"))
    }

    pub fn nginx_calls(&self) -> Vec<Vec<String>> {
        calls(&self.dir().join("nginx.log"))
    }

    /// Puts a fake `name` first on the session's PATH: a shell script printing what the
    /// test wants the host to say (`ss` listing a Redis on 0.0.0.0).
    pub fn fake_command(&self, name: &str, script: &str) {
        write_exec(&self.dir().join("bin").join(name), script);
    }

    /// Every command line clients sent, byte for byte, oldest first (only when started with
    /// [`Sshd::start_logging_commands`]).
    pub fn command_lines(&self) -> Vec<String> {
        fs::read_to_string(self.dir().join("commands.log"))
            .unwrap_or_default()
            .split('\u{1e}')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    }

    /// How every connection is made to this server: its known_hosts, the client key, no
    /// user ssh_config, control sockets inside the temp dir.
    pub fn ssh_config(&self) -> SshConfig {
        SshConfig {
            known_hosts: Some(self.known_hosts()),
            config_file: Some(self.dir().join("ssh_config")),
            identity_file: Some(self.dir().join("client_key")),
            user: Some(whoami()),
            control_dir: Some(self.dir().join("ctl")),
            ..SshConfig::default()
        }
    }

    pub fn host(&self, name: &str) -> HostConfig {
        let mut host = HostConfig::new(name, "127.0.0.1");
        host.port = Some(self.port);
        host
    }

    /// The control directories of the master connections open now: the same names before
    /// and after means no new connection was made.
    pub fn master_dirs(&self) -> Vec<String> {
        let mut dirs: Vec<String> = fs::read_dir(self.dir().join("ctl"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().join("master").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    /// Stops (or resumes) every process serving a connection, leaving the listener alone:
    /// an established session that suddenly says nothing.
    pub fn freeze_sessions(&self, frozen: bool) {
        let Some(listener) = self.pid() else { return };
        let signal = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        for pid in descendants(listener) {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
            }
        }
    }

    /// Master connections (control sockets) still open under this server's control dir.
    pub fn open_masters(&self) -> usize {
        fs::read_dir(self.dir().join("ctl"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().join("master").exists())
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Masters exit when asked; any left would otherwise idle out on their own.
        if let Ok(entries) = fs::read_dir(self.dir().join("ctl")) {
            for entry in entries.filter_map(Result::ok) {
                let socket = entry.path().join("master");
                if socket.exists() {
                    let _ = Command::new("ssh")
                        .arg("-S")
                        .arg(&socket)
                        .args(["-O", "exit", "x"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
        self.process.stop();
    }
}

fn calls(log: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.split('\u{1e}')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.strip_suffix('\u{1f}')
                .unwrap_or(r)
                .split('\u{1f}')
                .map(String::from)
                .collect()
        })
        .collect()
}

/// Every process below `root`, from each process's parent in /proc.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "root".into(), |u| u.name)
}

/// The server's identification line, once it is listening.
fn banner(port: u16) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let _ = stream.write_all(b"SSH-2.0-probe\r\n");
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.starts_with("SSH-").then_some(text)
}
