//! A real nginx as an edge cache node: one TLS port per site (each with its own
//! certificate and health answers), all proxying to a plain-HTTP origin on another port
//! through a real `proxy_cache`, so `X-Cache-Status` goes MISS then HIT as on production.
//!
//! Runs in the foreground in its own temp dir (config, pid, logs, every `*_temp` path and
//! the cache), on free loopback ports, stopped on drop.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::certs::{CertCase, Certs};
use super::process::{START_TIMEOUT, ServerProcess, free_port, log_tail};

const PORT_ATTEMPTS: usize = 5;
pub const NGINX: &str = "/usr/sbin/nginx";

/// One TLS port of the edge.
#[derive(Clone, Debug)]
pub struct Site {
    pub cert: CertCase,
    /// Status of `GET /health` and `GET /api/v1/streaming/health` on this port.
    pub health: u16,
    pub streaming: u16,
    /// The cache header's name: `X-Cache-Status` (object-storage proxy style) or `X-Cached`
    /// (Mastodon's dist/nginx.conf).
    pub cache_header: &'static str,
    /// A fixed value instead of `$upstream_cache_status`, to send hostile bytes.
    pub cache_value: Option<String>,
}

impl Site {
    pub fn new(cert: CertCase) -> Self {
        Site {
            cert,
            health: 200,
            streaming: 200,
            cache_header: "X-Cache-Status",
            cache_value: None,
        }
    }
}

pub struct Nginx {
    server: ServerProcess,
    ports: Vec<u16>,
    origin_port: u16,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx with `sites`; `ports()[i]` serves `sites[i]`.
    pub fn start(certs: &Certs, sites: &[Site]) -> Nginx {
        assert!(
            Path::new(NGINX).is_file(),
            "{NGINX} not found: install the Debian package `nginx` (scripts/test.sh does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("mastop-nginx-")
            .tempdir()
            .expect("create a temp dir for nginx");
        let www = dir.path().join("www");
        std::fs::create_dir_all(www.join("sounds")).expect("create the origin's files");
        std::fs::create_dir_all(www.join("system/media")).expect("create the origin's files");
        std::fs::write(www.join("sounds/boop.ogg"), b"OggS not really a sound")
            .expect("write an origin file");
        std::fs::write(www.join("system/media/cat.png"), b"not really a cat")
            .expect("write an origin file");
        std::fs::write(www.join("index.html"), b"<h1>mastodon</h1>").expect("write index");
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let ports: Vec<u16> = sites.iter().map(|_| free_port()).collect();
            let origin_port = free_port();
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, config(dir.path(), certs, sites, &ports, origin_port))
                .expect("write nginx.conf");
            let all: Vec<u16> = ports.iter().copied().chain([origin_port]).collect();
            match spawn(dir.path(), &conf, &all) {
                Ok(server) => {
                    return Nginx {
                        server,
                        ports,
                        origin_port,
                        dir,
                    };
                }
                Err(e) => last_error = e,
            }
        }
        panic!("nginx did not start after {PORT_ATTEMPTS} attempts: {last_error}");
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// `127.0.0.1:port` of site `i`, as an `[[edge]]` address.
    pub fn address(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.ports[i])
    }

    /// The origin behind the cache, plain HTTP: stands in for object storage too.
    pub fn origin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.origin_port)
    }

    pub fn error_log(&self) -> String {
        log_tail(&self.dir.path().join("error.log"), 30)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.server.stop();
    }
}

fn config(dir: &Path, certs: &Certs, sites: &[Site], ports: &[u16], origin: u16) -> String {
    let d = dir.display();
    let user = if nix::unistd::Uid::effective().is_root() {
        "user root;\n"
    } else {
        ""
    };
    let mut servers = String::new();
    for (site, port) in sites.iter().zip(ports) {
        let value = match &site.cache_value {
            Some(v) => format!("\"{v}\""),
            None => "$upstream_cache_status".into(),
        };
        servers.push_str(&format!(
            r#"
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /health {{ return {health} "OK"; }}
        location = /api/v1/streaming/health {{ return {streaming} "OK"; }}
        location / {{
            proxy_pass http://127.0.0.1:{origin};
            proxy_cache edge;
            proxy_cache_valid 200 10m;
            add_header {header} {value} always;
        }}
    }}
"#,
            host = certs.hostname,
            cert = certs.cert(site.cert).display(),
            key = certs.key(site.cert).display(),
            health = site.health,
            streaming = site.streaming,
            header = site.cache_header,
        ));
    }
    format!(
        r#"{user}worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_temp;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    proxy_cache_path {d}/cache keys_zone=edge:1m;
    server {{
        listen 127.0.0.1:{origin};
        root {d}/www;
    }}
{servers}}}
"#
    )
}

/// Runs nginx with `conf` from `dir` until it listens on every one of `ports` (on
/// 127.0.0.1) and its pid file names our child.
pub(super) fn spawn(dir: &Path, conf: &Path, ports: &[u16]) -> Result<ServerProcess, String> {
    let log = File::create(dir.join("stderr.log")).map_err(|e| e.to_string())?;
    let child = Command::new(NGINX)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run {NGINX}: {e}"))?;
    // SIGTERM is nginx's fast stop: no waiting for open connections.
    let mut server = ServerProcess::new(child, Signal::SIGTERM);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = server.exited() {
            return Err(format!(
                "nginx exited ({status}): {}\n{}",
                log_tail(&dir.join("stderr.log"), 20),
                log_tail(&dir.join("error.log"), 20)
            ));
        }
        let up = ports.iter().all(|p| {
            std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from(([127, 0, 0, 1], *p)),
                Duration::from_millis(200),
            )
            .is_ok()
        });
        // Ours, not a stranger on a reused port: the pid file names our child.
        let ours = std::fs::read_to_string(dir.join("nginx.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            == server.pid();
        if up && ours {
            return Ok(server);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "nginx did not listen within {START_TIMEOUT:?}: {}",
                log_tail(&dir.join("error.log"), 20)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
