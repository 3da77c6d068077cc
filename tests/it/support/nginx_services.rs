//! A real nginx in front of the HTTP services mastop reads (Elasticsearch's recorded
//! answers, the streaming server's `/metrics`, a real node_exporter): TLS with a
//! certificate from the test CA on 127.0.0.1 and [::1], basic auth from an htpasswd file
//! made with `openssl passwd -apr1`, a redirect, pages larger than the sources' caps, the
//! answers a runbook's requests and health gates get, and an access log that records each
//! request's `Host` header and the bytes nginx sent.
//!
//! Same temp-dir, free-port and stop-on-drop rules as the edge nginx in `nginx.rs`.
//!
//! | path | what it serves |
//! | --- | --- |
//! | `/es/…` | Elasticsearch's recorded answers (green cluster) |
//! | `/private/…` | the same, behind basic auth |
//! | `/big-es/…` | the same, with an index list of 5 MiB |
//! | `/moved/_cluster/health` | a 301 to `/es/_cluster/health` |
//! | `/streaming/metrics` | the streaming server's recorded page |
//! | `/big/metrics` | 32 MiB of metrics, sent chunked (no length known up front) |
//! | `/node/metrics` | the node_exporter given at start, behind basic auth |
//! | `/node-open/metrics` | the same node_exporter without auth |
//! | `/token/…`, `/token-streaming/metrics` | Elasticsearch and streaming, only with `Authorization: Bearer TOKEN` |
//! | `/node-token/metrics` | the node_exporter, only with the bearer token |
//! | `/up/…`, `/sick/…` | `health/NAME` and `reload/NAME` for runbooks; `/sick/health/web-2` is 503 |

use std::path::Path;
use std::process::Command;

use super::certs::{CertCase, Certs};
use super::nginx::{NGINX, spawn};
use super::process::{ServerProcess, free_port, log_tail};

const PORT_ATTEMPTS: usize = 5;
pub const USER: &str = "elastic";
pub const PASSWORD: &str = "s3cret-Passw0rd";
/// The bearer token `/token/…` and `/node-token/metrics` accept.
pub const TOKEN: &str = "tok-9f8e7d6c5b4a";
/// Bigger than any source's cap, and than what the loopback's socket buffers can hold, so
/// the bytes nginx managed to send show where the reader stopped.
pub const BIG_METRICS: usize = 32 * 1024 * 1024;

pub struct ServiceNginx {
    server: ServerProcess,
    tls_port: u16,
    plain_port: u16,
    dir: tempfile::TempDir,
}

/// One line of the access log.
#[derive(Clone, Debug, PartialEq)]
pub struct Logged {
    pub method: String,
    pub uri: String,
    pub host: String,
    pub status: u16,
    pub bytes_sent: u64,
}

impl ServiceNginx {
    /// `node_exporter` is the `http://127.0.0.1:PORT` of a running node_exporter, if the
    /// test reads one through nginx.
    pub fn start(certs: &Certs, node_exporter: Option<&str>) -> ServiceNginx {
        assert!(
            Path::new(NGINX).is_file(),
            "{NGINX} not found: install the Debian package `nginx` (scripts/test.sh does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("mastop-nginx-services-")
            .tempdir()
            .expect("create a temp dir for nginx");
        write_site(dir.path());
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let (tls_port, plain_port) = (free_port(), free_port());
            let conf = dir.path().join("nginx.conf");
            let text = config(dir.path(), certs, tls_port, plain_port, node_exporter);
            std::fs::write(&conf, text).expect("write nginx.conf");
            match spawn(dir.path(), &conf, &[tls_port, plain_port]) {
                Ok(server) => {
                    return ServiceNginx {
                        server,
                        tls_port,
                        plain_port,
                        dir,
                    };
                }
                Err(e) => last_error = e,
            }
        }
        panic!("nginx did not start after {PORT_ATTEMPTS} attempts: {last_error}");
    }

    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// `https://localhost:PORT{path}`.
    pub fn https(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.tls_port)
    }

    /// Every request logged so far, oldest first.
    pub fn log(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut f = line.split('\t');
                Some(Logged {
                    method: f.next()?.to_string(),
                    uri: f.next()?.to_string(),
                    host: f.next()?.to_string(),
                    status: f.next()?.parse().ok()?,
                    bytes_sent: f.next()?.parse().ok()?,
                })
            })
            .collect()
    }

    /// The logged requests for `uri`, waiting up to a few seconds for the first: nginx logs
    /// a request when it ends, which for one the client abandoned is when it notices.
    pub fn logged(&self, uri: &str) -> Vec<Logged> {
        for _ in 0..100 {
            let found: Vec<Logged> = self.log().into_iter().filter(|l| l.uri == uri).collect();
            if !found.is_empty() {
                return found;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "nginx logged no request for {uri}: {:?}\n{}",
            self.log(),
            self.error_log()
        );
    }

    pub fn error_log(&self) -> String {
        log_tail(&self.dir.path().join("error.log"), 30)
    }
}

impl Drop for ServiceNginx {
    fn drop(&mut self) {
        self.server.stop();
    }
}

fn fixture(path: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn write_site(dir: &Path) {
    let www = dir.join("www");
    let put = |path: &str, body: &[u8]| {
        let file = www.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("create site dirs");
        std::fs::write(&file, body).expect("write a site file");
    };
    for es in ["es", "big-es"] {
        put(
            &format!("{es}/_cluster/health"),
            &fixture("elasticsearch/health_green.json"),
        );
        put(
            &format!("{es}/root.json"),
            &fixture("elasticsearch/root.json"),
        );
    }
    put(
        "es/_cat/indices",
        &fixture("elasticsearch/cat_indices.json"),
    );
    put("big-es/_cat/indices", &vec![b' '; 5 * 1024 * 1024]);
    put("streaming/metrics", &fixture("streaming/metrics.txt"));
    let line = b"mastodon_streaming_connected_clients{type=\"websocket\"} 1\n";
    let big: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(BIG_METRICS / line.len() * line.len())
        .collect();
    put("big/metrics", &big);
    let hash = Command::new("openssl")
        .args(["passwd", "-apr1", PASSWORD])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): install the Debian package `openssl`")
        });
    assert!(hash.status.success(), "openssl passwd failed");
    let hash = String::from_utf8(hash.stdout).expect("a UTF-8 hash");
    std::fs::write(dir.join("htpasswd"), format!("{USER}:{}\n", hash.trim()))
        .expect("write htpasswd");
}

fn config(dir: &Path, certs: &Certs, tls: u16, plain: u16, node_exporter: Option<&str>) -> String {
    let d = dir.display();
    let user = if nix::unistd::Uid::effective().is_root() {
        "user root;\n"
    } else {
        ""
    };
    let node = node_exporter.map_or_else(String::new, |upstream| {
        format!(
            r#"
        location = /node/metrics {{
            auth_basic "node_exporter";
            auth_basic_user_file {d}/htpasswd;
            proxy_pass {upstream}/metrics;
        }}
        location = /node-open/metrics {{ proxy_pass {upstream}/metrics; }}
        location = /node-token/metrics {{
            if ($http_authorization != "Bearer {TOKEN}") {{ return 401; }}
            proxy_pass {upstream}/metrics;
        }}"#
        )
    });
    let locations = format!(
        r#"
        root {d}/www;
        location /es/ {{ default_type application/json; index root.json; }}
        location /big-es/ {{ default_type application/json; index root.json; }}
        location /private/ {{
            auth_basic "elasticsearch";
            auth_basic_user_file {d}/htpasswd;
            default_type application/json;
            index root.json;
            alias {d}/www/es/;
        }}
        location /token/ {{
            if ($http_authorization != "Bearer {TOKEN}") {{ return 401; }}
            default_type application/json;
            index root.json;
            alias {d}/www/es/;
        }}
        location = /token-streaming/metrics {{
            if ($http_authorization != "Bearer {TOKEN}") {{ return 401; }}
            default_type text/plain;
            alias {d}/www/streaming/metrics;
        }}
        location = /moved/_cluster/health {{
            return 301 https://localhost:{tls}/es/_cluster/health;
        }}
        location /streaming/ {{ default_type text/plain; }}
        location = /big/metrics {{
            default_type text/plain;
            # Rewriting the body drops its length: the page goes out chunked.
            sub_filter_types *;
            sub_filter "@@" "";
        }}
        location = /sick/health/web-2 {{ return 503 "unhealthy\n"; }}
        location ~ ^/(up|sick)/health/ {{ return 200 "OK\n"; }}
        location ~ ^/(up|sick)/reload/ {{ return 200 "reloaded\n"; }}{node}
"#
    );
    format!(
        r#"{user}worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    log_format hosts "$request_method\t$request_uri\t$http_host\t$status\t$body_bytes_sent";
    access_log {d}/access.log hosts;
    client_body_temp_path {d}/client_temp;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    server {{
        listen 127.0.0.1:{tls} ssl;
        listen [::1]:{tls} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{locations}
    }}
    server {{
        listen 127.0.0.1:{plain};
        listen [::1]:{plain};
        server_name localhost;
{locations}
    }}
}}
"#,
        cert = certs.cert(CertCase::Valid).display(),
        key = certs.key(CertCase::Valid).display(),
    )
}
