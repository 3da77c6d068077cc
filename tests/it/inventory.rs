//! Inventory from recorded Tailscale and Ansible documents, and the LocalAPI client against
//! a real Unix-socket HTTP server started here (Tailscale itself cannot run in tests): the
//! socket, HTTP and error paths are real.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mastop::config::{AnsibleInventory, HostConfig, InventoryConfig, TailscaleInventory};
use mastop::inventory::localapi::{LocalApi, LocalApiError};
use mastop::inventory::{Origin, ansible, discover, identity, merge, tailscale};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(fixture(path)).expect("fixture")
}

/// What the fake tailscaled does with one request.
#[derive(Clone)]
enum Reply {
    Json(Vec<u8>),
    Status(u16, &'static str),
    /// Accept, read the request, never answer.
    Hang,
    Raw(&'static [u8]),
}

/// An HTTP server on a Unix socket in a temp dir, answering by request path. Every
/// request's head is recorded for assertions.
struct FakeTailscaled {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeTailscaled {
    fn start(routes: Vec<(&'static str, Reply)>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("tailscaled.sock");
        let listener = UnixListener::bind(&socket).expect("bind socket");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                    seen.lock().unwrap().push(head);
                    let reply = routes
                        .iter()
                        .find(|(prefix, _)| path.starts_with(prefix))
                        .map(|(_, r)| r.clone())
                        .unwrap_or(Reply::Status(404, "not found"));
                    let response = match reply {
                        Reply::Json(body) => {
                            let mut r = format!(
                                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            r.extend_from_slice(&body);
                            r
                        }
                        Reply::Status(code, text) => {
                            format!("HTTP/1.0 {code} Whatever\r\n\r\n{text}\n").into_bytes()
                        }
                        Reply::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        Reply::Raw(bytes) => bytes.to_vec(),
                    };
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        FakeTailscaled {
            _dir: dir,
            socket,
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn ts_config(socket: &Path) -> TailscaleInventory {
    TailscaleInventory {
        socket: socket.to_path_buf(),
        command: Vec::new(),
        ..TailscaleInventory::default()
    }
}

const DEADLINE: Duration = Duration::from_secs(5);

// ---- parsing the recorded documents ----

#[test]
fn status_fixture_keeps_tagged_servers_and_flags_offline_ones() {
    let status = tailscale::parse_status(&read("tailscale/status.json")).expect("parses");
    assert_eq!(status.peer.len(), 7);
    let hosts = tailscale::hosts(&status, &["tag:server".into()]);
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prod-mastodon-web01",
            "prod-mastodon-web02",
            "prod-mastodon-sidekiq01",
            "cdn-fremont-1",
            "dev-mastodon-web01"
        ],
        "untagged laptops and phones are not hosts; the console's own node neither"
    );
    let web = &hosts[0];
    assert_eq!(
        web.address, "prod-mastodon-web01.tail1234.ts.net",
        "no trailing dot"
    );
    assert_eq!(web.roles, ["mastodon-web"]);
    assert_eq!(web.region, "emea-central");
    assert_eq!(web.provider, "hetzner-robot");
    assert_eq!(
        web.tags,
        [
            "server",
            "env-prod",
            "role-mastodon-web",
            "region-emea-central",
            "provider-hetzner-robot"
        ]
    );
    assert!(web.aliases.contains(&"100.64.0.10".to_string()));
    assert!(web.aliases.contains(&"fd7a:115c:a1e0::a".to_string()));
    assert_eq!(web.online, Some(true));
    assert_eq!(web.last_seen, None, "zero time is no time");

    let multi = &hosts[1];
    assert_eq!(multi.name, "prod-mastodon-web02", "DNS name lowercased");
    assert_eq!(multi.roles, ["mastodon-web", "mastodon-streaming"]);

    let offline = &hosts[2];
    assert_eq!(offline.online, Some(false));
    let seen = offline
        .last_seen
        .expect("offline peer has a last-seen time");
    assert_eq!(
        humantime::format_rfc3339_seconds(seen).to_string(),
        "2026-11-26T07:00:00Z"
    );
}

#[test]
fn require_tags_narrows_to_production_and_empty_takes_every_peer() {
    let status = tailscale::parse_status(&read("tailscale/status.json")).expect("parses");
    let prod = tailscale::hosts(&status, &["tag:server".into(), "tag:env-prod".into()]);
    assert_eq!(prod.len(), 4);
    assert!(
        prod.iter()
            .all(|h| h.tags.contains(&"env-prod".to_string()))
    );
    let web_only = tailscale::hosts(&status, &["tag:role-mastodon-web".into()]);
    assert_eq!(
        web_only.len(),
        3,
        "multi-tag peer matches each of its roles"
    );
    let everyone = tailscale::hosts(&status, &[]);
    assert_eq!(everyone.len(), 7);
    let phone = everyone
        .iter()
        .find(|h| h.name == "bobs-phone")
        .expect("phone");
    assert!(phone.tags.is_empty() && phone.roles.is_empty());
    assert_eq!(phone.online, Some(false));
    assert!(phone.last_seen.is_some());
}

#[test]
fn whois_fixtures_name_a_person_or_nobody() {
    assert_eq!(
        tailscale::login(&read("tailscale/whois_alice.json")),
        Ok(Some("alice@example.org".into()))
    );
    assert_eq!(
        tailscale::login(&read("tailscale/whois_tagged.json")),
        Ok(None)
    );
}

#[test]
fn ansible_fixture_maps_groups_to_roles_regions_and_providers() {
    let roles = HashMap::from([
        ("primary".to_string(), "postgres-primary".to_string()),
        ("replica".to_string(), "postgres-replica".to_string()),
    ]);
    let hosts = ansible::hosts(&read("ansible/inventory.json"), &roles).expect("parses");
    let by = |name: &str| hosts.iter().find(|h| h.name == name).expect(name);
    assert_eq!(hosts.len(), 4);
    let db = by("db-primary-1");
    assert_eq!(db.roles, ["postgres-primary"]);
    assert_eq!(db.region, "emea-central", "region from the region_ group");
    assert_eq!(
        db.provider, "hetzner-robot",
        "provider from the provider_ group"
    );
    assert_eq!(db.address, "10.10.0.5");
    assert_eq!(
        db.groups,
        [
            "databases",
            "primary",
            "provider_hetzner_robot",
            "region_emea_central"
        ]
    );
    let web = by("prod-mastodon-web01");
    assert_eq!(web.roles, ["mastodon-web"], "role_ convention");
    assert_eq!(web.groups, ["mastodon", "role_mastodon_web"]);
    assert_eq!(web.region, "emea-central", "hostvar region");
    let sidekiq = by("prod-mastodon-sidekiq01");
    assert_eq!(sidekiq.address, "100.64.0.12");
    assert_eq!(sidekiq.roles, ["mastodon-sidekiq"]);
}

#[test]
fn all_three_sources_merge_into_one_list() {
    let status = tailscale::parse_status(&read("tailscale/status.json")).expect("parses");
    let ts = tailscale::hosts(&status, &["tag:server".into(), "tag:env-prod".into()]);
    let roles = HashMap::from([("primary".to_string(), "postgres-primary".to_string())]);
    let an = ansible::hosts(&read("ansible/inventory.json"), &roles).expect("parses");
    let mut web = host("web-1", "PROD-MASTODON-WEB01.tail1234.ts.net.");
    web.region = "fsn1".into();
    let hosts = merge(&[web], &ts, &an);
    let names: Vec<&str> = hosts.iter().map(|h| h.config.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "web-1",
            "cdn-fremont-1",
            "prod-mastodon-sidekiq01",
            "prod-mastodon-web02",
            "db-primary-1",
            "db-replica-1"
        ]
    );
    let web = &hosts[0];
    assert_eq!(
        web.origins,
        [Origin::Config, Origin::Tailscale, Origin::Ansible]
    );
    assert_eq!(web.config.region, "fsn1", "config wins");
    assert_eq!(web.config.roles, ["mastodon-web"]);
    assert_eq!(web.groups, ["mastodon", "role_mastodon_web"]);
    let sidekiq = &hosts[2];
    assert_eq!(
        sidekiq.origins,
        [Origin::Tailscale, Origin::Ansible],
        "matched by Tailscale IP"
    );
    assert_eq!(sidekiq.online, Some(false));
    assert!(!sidekiq.pollable(), "offline peers are shown, not polled");
}

fn host(name: &str, address: &str) -> HostConfig {
    let config: mastop::config::Config = toml::from_str(&format!(
        "[[host]]\nname = \"{name}\"\naddress = \"{address}\"\n"
    ))
    .expect("host table");
    config.hosts.into_iter().next().expect("one host")
}

// ---- the LocalAPI over a real Unix socket ----

#[tokio::test]
async fn localapi_reads_status_over_the_socket_with_the_right_host_header() {
    let server = FakeTailscaled::start(vec![(
        "/localapi/v0/status",
        Reply::Json(read("tailscale/status.json")),
    )]);
    let hosts = discover::tailscale_hosts(&ts_config(&server.socket), DEADLINE)
        .await
        .expect("discovered");
    assert_eq!(hosts.len(), 5);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].starts_with("GET /localapi/v0/status HTTP/1."),
        "{}",
        requests[0]
    );
    assert!(
        requests[0].contains("Host: local-tailscaled.sock\r\n"),
        "{}",
        requests[0]
    );
    assert!(!requests[0].to_lowercase().contains("origin:"));
    assert!(!requests[0].to_lowercase().contains("referer:"));
}

#[tokio::test]
async fn missing_socket_forbidden_garbage_and_hang_are_precise_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.sock");
    let err = LocalApi::new(&missing, DEADLINE)
        .status()
        .await
        .expect_err("no socket");
    assert_eq!(err, LocalApiError::NoSocket(missing.clone()));
    assert!(err.to_string().contains("is Tailscale running"), "{err}");

    let forbidden = FakeTailscaled::start(vec![("/", Reply::Status(403, "forbidden"))]);
    let err = discover::tailscale_hosts(&ts_config(&forbidden.socket), DEADLINE)
        .await
        .expect_err("403");
    assert!(
        err.contains("HTTP 403") && err.contains("forbidden"),
        "{err}"
    );

    let garbage = FakeTailscaled::start(vec![("/", Reply::Json(b"{\"Peer\": [1, 2".to_vec()))]);
    let err = discover::tailscale_hosts(&ts_config(&garbage.socket), DEADLINE)
        .await
        .expect_err("garbage");
    assert!(err.contains("not the expected JSON"), "{err}");

    let not_http = FakeTailscaled::start(vec![("/", Reply::Raw(b"\x1b[2Jhello\r\n\r\n"))]);
    let err = LocalApi::new(&not_http.socket, DEADLINE)
        .status()
        .await
        .expect_err("not http");
    assert!(matches!(err, LocalApiError::Protocol(_)), "{err:?}");
    assert!(
        !err.to_string().contains('\x1b'),
        "escape sequences are stripped"
    );

    let hang = FakeTailscaled::start(vec![("/", Reply::Hang)]);
    let short = Duration::from_millis(200);
    let err = LocalApi::new(&hang.socket, short)
        .status()
        .await
        .expect_err("hang");
    assert_eq!(err, LocalApiError::Timeout(short));
    assert_eq!(hang.requests().len(), 1, "the request reached the server");
}

#[tokio::test]
async fn tailscaled_not_logged_in_says_so() {
    let server = FakeTailscaled::start(vec![(
        "/",
        Reply::Json(br#"{"BackendState":"NeedsLogin","Peer":{}}"#.to_vec()),
    )]);
    let err = discover::tailscale_hosts(&ts_config(&server.socket), DEADLINE)
        .await
        .expect_err("not running");
    assert!(
        err.contains("NeedsLogin") && err.contains("tailscale up"),
        "{err}"
    );
}

#[tokio::test]
async fn without_a_socket_the_status_command_runs_instead() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = TailscaleInventory {
        socket: dir.path().join("absent.sock"),
        command: vec![
            "cat".into(),
            fixture("tailscale/status.json").display().to_string(),
        ],
        ..TailscaleInventory::default()
    };
    let hosts = discover::tailscale_hosts(&config, DEADLINE)
        .await
        .expect("from the command");
    assert_eq!(hosts.len(), 5);

    let failing = TailscaleInventory {
        command: vec![
            "sh".into(),
            "-c".into(),
            "echo 'failed to connect to local tailscaled' >&2; exit 1".into(),
        ],
        ..config.clone()
    };
    let err = discover::tailscale_hosts(&failing, DEADLINE)
        .await
        .expect_err("exit 1");
    assert!(
        err.contains("failed to connect to local tailscaled"),
        "{err}"
    );

    let absent = TailscaleInventory {
        command: vec!["mastop-no-such-tailscale".into(), "status".into()],
        ..config.clone()
    };
    let err = discover::tailscale_hosts(&absent, DEADLINE)
        .await
        .expect_err("absent");
    assert!(err.contains("not installed or not on PATH"), "{err}");

    let slow = TailscaleInventory {
        command: vec!["sleep".into(), "30".into()],
        ..config
    };
    let err = discover::tailscale_hosts(&slow, Duration::from_millis(200))
        .await
        .expect_err("slow");
    assert!(err.contains("did not finish within 200ms"), "{err}");
}

#[tokio::test]
async fn discovery_keeps_what_worked_and_lists_what_failed() {
    let server = FakeTailscaled::start(vec![(
        "/localapi/v0/status",
        Reply::Json(read("tailscale/status.json")),
    )]);
    let config = InventoryConfig {
        tailscale: Some(ts_config(&server.socket)),
        ansible: Some(AnsibleInventory {
            file: Some(PathBuf::from("/nonexistent/inventory.json")),
            ..AnsibleInventory::default()
        }),
        ..InventoryConfig::default()
    };
    let inventory = discover::discover(&[host("web-1", "100.64.0.10")], &config).await;
    assert_eq!(inventory.hosts.len(), 5, "config host joined its peer");
    assert_eq!(
        inventory.hosts[0].origins,
        [Origin::Config, Origin::Tailscale]
    );
    assert_eq!(inventory.errors.len(), 1);
    assert!(
        inventory.errors[0].contains("/nonexistent/inventory.json"),
        "{:?}",
        inventory.errors
    );
    assert!(inventory.refreshed.is_some());
    assert_eq!(
        inventory.pollable().len(),
        4,
        "the offline peer is not polled"
    );

    let from_file = InventoryConfig {
        ansible: Some(AnsibleInventory {
            file: Some(fixture("ansible/inventory.json")),
            ..AnsibleInventory::default()
        }),
        ..InventoryConfig::default()
    };
    let inventory = discover::discover(&[], &from_file).await;
    assert!(inventory.errors.is_empty(), "{:?}", inventory.errors);
    assert_eq!(inventory.hosts.len(), 4);
    assert!(
        inventory
            .hosts
            .iter()
            .all(|h| h.origins == [Origin::Ansible])
    );
}

#[tokio::test]
async fn identity_is_the_login_of_this_node_or_nothing() {
    let server = FakeTailscaled::start(vec![
        (
            "/localapi/v0/status",
            Reply::Json(read("tailscale/status.json")),
        ),
        (
            "/localapi/v0/whois",
            Reply::Json(read("tailscale/whois_alice.json")),
        ),
    ]);
    let login = identity::login(&server.socket, DEADLINE).await;
    assert_eq!(login, Ok(Some("alice@example.org".into())));
    let requests = server.requests();
    assert!(
        requests[1].starts_with("GET /localapi/v0/whois?addr=100.64.0.7 "),
        "whois asks for this node's first address: {}",
        requests[1]
    );

    let tagged = FakeTailscaled::start(vec![
        (
            "/localapi/v0/status",
            Reply::Json(read("tailscale/status.json")),
        ),
        (
            "/localapi/v0/whois",
            Reply::Json(read("tailscale/whois_tagged.json")),
        ),
    ]);
    assert_eq!(identity::login(&tagged.socket, DEADLINE).await, Ok(None));

    let dir = tempfile::tempdir().expect("temp dir");
    let err = identity::login(&dir.path().join("none.sock"), DEADLINE)
        .await
        .expect_err("none");
    assert!(err.contains("no tailscaled socket"), "{err}");
    assert_eq!(
        identity::login_or_none(&dir.path().join("none.sock"), DEADLINE).await,
        None
    );

    let hang = FakeTailscaled::start(vec![("/", Reply::Hang)]);
    assert_eq!(
        identity::login_or_none(&hang.socket, Duration::from_millis(200)).await,
        None,
        "a hung tailscaled costs the deadline, then nothing"
    );
}

// ---- config ----

#[test]
fn inventory_config_parses_and_broken_config_is_located() {
    let ok = r#"
[inventory]
refresh = "10m"
[inventory.tailscale]
require_tags = ["tag:server", "tag:env-prod"]
[inventory.ansible]
command = ["ansible-inventory", "-i", "hosts.yml", "--list"]
roles = { primary = "postgres-primary" }
"#;
    let (config, _) = mastop::config::load_str(ok, "test.toml", &[]).expect("valid");
    let ts = config.inventory.tailscale.as_ref().expect("tailscale");
    assert_eq!(
        ts.socket,
        PathBuf::from("/var/run/tailscale/tailscaled.sock")
    );
    assert_eq!(ts.command, ["tailscale", "status", "--json"]);
    assert_eq!(config.inventory.refresh(), Duration::from_secs(600));
    assert!(config.inventory.discovers());

    let cases = [
        (
            "[inventory.ansible]\nroles = {}\n",
            "needs `file` or `command`",
            1,
        ),
        (
            "[inventory.ansible]\nfile = \"a.json\"\ncommand = [\"x\"]\n",
            "either `file` or `command`",
            1,
        ),
        (
            "[inventory.tailscale]\nrequire_tags = [\"tag:server\", \"env prod\"]\n",
            "`env prod` is not a Tailscale tag",
            2,
        ),
        (
            "[inventory]\nrefresh = \"5s\"\n",
            "more often than every 30s",
            2,
        ),
        (
            "[inventory.tailscale]\nsockets = \"/x\"\n",
            "did you mean `socket`",
            2,
        ),
    ];
    for (text, expected, line) in cases {
        let err = mastop::config::load_str(text, "test.toml", &[]).expect_err(text);
        let shown = err.to_string();
        assert!(shown.contains(expected), "{text}: {shown}");
        assert!(
            shown.contains(&format!("test.toml:{line}")),
            "{text}: located at line {line}: {shown}"
        );
    }
}

#[test]
fn last_seen_age_reads_like_an_operator_would_say_it() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let seen = |secs| Some(now - Duration::from_secs(secs));
    assert_eq!(
        mastop::tui::rows::fleet::seen_text(Some(false), seen(3 * 3600 + 120), now),
        "offline · last seen 3h ago"
    );
    assert_eq!(
        mastop::tui::rows::fleet::seen_text(Some(false), None, now),
        "offline"
    );
    assert_eq!(
        mastop::tui::rows::fleet::seen_text(Some(true), None, now),
        "online"
    );
    assert_eq!(mastop::tui::rows::fleet::seen_text(None, None, now), "");
}

// ---- `mastop inventory` ----

#[test]
fn inventory_command_prints_the_merged_list_as_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[host]]
name = "web-1"
address = "prod-mastodon-web01.tail1234.ts.net"
region = "fsn1"

[inventory.tailscale]
socket = "{socket}"
command = ["cat", "{status}"]
require_tags = ["tag:server", "tag:env-prod"]

[inventory.ansible]
file = "{ansible}"
roles = {{ primary = "postgres-primary", replica = "postgres-replica" }}
"#,
            socket = dir.path().join("absent.sock").display(),
            status = fixture("tailscale/status.json").display(),
            ansible = fixture("ansible/inventory.json").display(),
        ),
    )
    .expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .arg("--config")
        .arg(&config)
        .args(["inventory", "--json"])
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .expect("run mastop");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hosts = json["hosts"].as_array().expect("hosts");
    let names: Vec<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "web-1",
            "cdn-fremont-1",
            "prod-mastodon-sidekiq01",
            "prod-mastodon-web02",
            "db-primary-1",
            "db-replica-1"
        ]
    );
    assert_eq!(
        hosts[0]["sources"],
        serde_json::json!(["config", "tailscale", "ansible"])
    );
    assert_eq!(hosts[0]["region"], "fsn1");
    assert_eq!(hosts[2]["online"], false);
    assert_eq!(hosts[2]["last_seen"], "2026-11-26T07:00:00Z");
    assert_eq!(hosts[2]["polled"], false);
    assert_eq!(hosts[5]["roles"], serde_json::json!(["postgres-replica"]));
    assert_eq!(json["errors"], serde_json::json!([]));

    // A source that fails still prints what the others found, and exits 1.
    let broken = std::fs::read_to_string(&config).expect("config").replace(
        &fixture("ansible/inventory.json").display().to_string(),
        "/nonexistent.json",
    );
    std::fs::write(&config, broken).expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .arg("--config")
        .arg(&config)
        .arg("inventory")
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .expect("run mastop");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("prod-mastodon-sidekiq01") && stdout.contains("offline · last seen"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent.json"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_action_is_audited_with_the_tailnet_login() {
    let server = FakeTailscaled::start(vec![
        (
            "/localapi/v0/status",
            Reply::Json(read("tailscale/status.json")),
        ),
        (
            "/localapi/v0/whois",
            Reply::Json(read("tailscale/whois_alice.json")),
        ),
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let audit = dir.path().join("audit.jsonl");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\nfile = \"{}\"\n\n[inventory.tailscale]\nenabled = false\nsocket = \"{}\"\n",
            audit.display(),
            server.socket.display()
        ),
    )
    .expect("write config");
    let home = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
            .arg("--config")
            .arg(&config)
            .args([
                "action",
                "run",
                "demo.restart_unit",
                "--demo",
                "--component",
                "host/web-1",
                "--object",
                "mastodon-web.service",
                "--confirm",
                "web-1",
            ])
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_STATE_HOME", home.join("state"))
            .output()
            .expect("run mastop")
    })
    .await
    .expect("join");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    // A demo action is audited in the demo's sandbox, never in the configured audit file.
    assert!(!audit.exists(), "the demo wrote into the real audit log");
    let records = std::fs::read_to_string(dir.path().join("data/mastop/demo/audit.jsonl"))
        .expect("audit log");
    let lines: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(lines.len() >= 2, "intent and outcome: {records}");
    for record in &lines {
        assert_eq!(record["tailscale_login"], "alice@example.org", "{record}");
    }
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /localapi/v0/whois?addr=100.64.0.7 ")),
        "{:?}",
        server.requests()
    );
}

#[tokio::test]
async fn ansible_inventory_from_a_command_and_its_failures() {
    let roles = HashMap::from([("primary".to_string(), "postgres-primary".to_string())]);
    let from_command = AnsibleInventory {
        command: vec![
            "cat".into(),
            fixture("ansible/inventory.json").display().to_string(),
        ],
        roles,
        ..AnsibleInventory::default()
    };
    let hosts = discover::ansible_hosts(&from_command, DEADLINE)
        .await
        .expect("from the command");
    assert_eq!(hosts.len(), 4);
    assert!(hosts.iter().any(|h| h.roles == ["postgres-primary"]));

    let not_json = AnsibleInventory {
        command: vec!["echo".into(), "[WARNING]: No inventory was parsed".into()],
        ..AnsibleInventory::default()
    };
    let err = discover::ansible_hosts(&not_json, DEADLINE)
        .await
        .expect_err("not JSON");
    assert!(err.contains("not `ansible-inventory --list` JSON"), "{err}");

    let failing = AnsibleInventory {
        command: vec![
            "sh".into(),
            "-c".into(),
            "echo 'ERROR! Unable to parse hosts.yml' >&2; exit 1".into(),
        ],
        ..AnsibleInventory::default()
    };
    let err = discover::ansible_hosts(&failing, DEADLINE)
        .await
        .expect_err("exit 1");
    assert!(err.contains("Unable to parse hosts.yml"), "{err}");
}
