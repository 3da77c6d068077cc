//! `[[edge]]`, `[[elasticsearch]]` and `[[streaming]]` in the config: mistakes are located
//! and explained, and a valid config becomes one source per entry.

use mastop::config::{ConfigError, FileError, load_str};
use mastop::sources;

fn errors(text: &str) -> Vec<FileError> {
    match load_str(text, "test.toml", &[]) {
        Ok(_) => panic!("expected config errors for:\n{text}"),
        Err(ConfigError { errors }) => errors,
    }
}

fn keys(errs: &[FileError]) -> Vec<&str> {
    errs.iter().filter_map(|e| e.key.as_deref()).collect()
}

const VALID: &str = r#"
[[edge]]
name = "fremont-1"
address = "192.0.2.10"
hostname = "social.example"
region = "us-west"
path = "/sounds/boop.ogg"
media_path = "/system/media_attachments/files/1/original/a.png"
object_storage_url = "https://files.social.example"

[[edge]]
name = "tokyo-1"
address = "cdn-tokyo-1.example:8443"
hostname = "social.example"
region = "apac"
deadline = "3s"

[[elasticsearch]]
name = "search"
url = "https://elastic@es-1.example:9200"
password = "env:ES_PASSWORD"

[[streaming]]
name = "streaming-4000"
url = "http://streaming-1.example:4000/metrics"
region = "eu-central"
"#;

#[test]
fn a_valid_config_builds_one_source_per_entry() {
    let (config, _) = load_str(VALID, "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.edges[0].path, "/sounds/boop.ogg");
    assert_eq!(config.edges[1].path, "/", "the default page");
    let specs = sources::build(&config);
    let ids: Vec<(&str, &str, &str)> = specs
        .iter()
        .map(|s| (s.meta.kind, s.meta.id.name(), s.meta.region.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("edge", "fremont-1", "us-west"),
            ("edge", "tokyo-1", "apac"),
            ("elasticsearch", "search", ""),
            ("streaming", "streaming-4000", "eu-central"),
        ]
    );
    assert_eq!(
        specs[1].schedule.deadline,
        std::time::Duration::from_secs(3)
    );
}

#[test]
fn edge_mistakes_are_each_located_with_a_fix() {
    let errs = errors(
        r#"
[[edge]]
name = "a b"
address = "https://cdn-1"
hostname = "https://social.example/"
path = "health"
object_storage_url = "s3://bucket"

[[edge]]
name = "ok"
address = "192.0.2.1"
hostname = "social.example"
media_path = "/a b"
cadence = "10ms"
"#,
    );
    assert_eq!(
        keys(&errs),
        [
            "edge[0].name",
            "edge[0].address",
            "edge[0].hostname",
            "edge[0].path",
            "edge[0].object_storage_url",
            "edge[0].object_storage_url",
            "edge[1].media_path",
            "edge[1].cadence",
        ]
    );
    let storage = &errs[4];
    assert!(
        storage.message.contains("not an http(s) URL"),
        "{}",
        storage.message
    );
    assert_eq!(
        errs[5].hint.as_deref(),
        Some("add `media_path = \"/…\"`, the object to check")
    );
    assert_eq!(errs[1].position.map(|p| p.0), Some(4));
    assert!(
        errs.iter()
            .all(|e| e.hint.is_some() || e.key.as_deref() == Some("edge[1].deadline"))
    );
}

#[test]
fn duplicate_edges_and_unknown_keys() {
    let errs = errors(
        "[[edge]]\nname = \"e\"\naddress = \"192.0.2.1\"\nhostname = \"a.example\"\n\
         [[edge]]\nname = \"e\"\naddress = \"192.0.2.2\"\nhostname = \"a.example\"\n",
    );
    assert_eq!(keys(&errs), ["edge[1].name"]);
    assert!(errs[0].message.contains("already called `e`"));

    let errs = errors(
        "[[edge]]\nname = \"e\"\naddress = \"192.0.2.1\"\nhostname = \"a.example\"\nhost_name = \"x\"\n",
    );
    assert_eq!(errs[0].hint.as_deref(), Some("did you mean `hostname`?"));
}

#[test]
fn service_endpoints_take_http_urls_and_no_write_access() {
    let errs = errors(
        r#"
[[elasticsearch]]
name = "search"
url = "http://elastic:hunter2@es:9200"
write_url = "http://es:9200"

[[streaming]]
name = "s"
url = "redis://streaming:4000"

[[streaming]]
name = "t"
url = "http://streaming:4000/metrics"
password = "env:X"
"#,
    );
    assert_eq!(
        keys(&errs),
        [
            "elasticsearch[0].url",
            "elasticsearch[0].write_url",
            "streaming[0].url",
            "streaming[1].password",
        ]
    );
    assert!(
        errs[3].message.contains("names no user"),
        "{}",
        errs[3].message
    );
    assert_eq!(errs[0].message, "the URL contains a password");
    assert!(!errs.iter().any(|e| e.message.contains("hunter2")));
    assert!(
        errs[2]
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("http://"))
    );
}

#[test]
fn tls_ca_and_credentials_must_fit_the_url() {
    let errs = errors(
        r#"
[[elasticsearch]]
name = "plain"
url = "http://es-1:9200"
tls_ca = "/etc/mastop/es-ca.pem"

[[elasticsearch]]
name = "both"
url = "https://elastic@es-2:9200"
password = "env:ES_PASSWORD"
bearer_token = "env:ES_TOKEN"

[[streaming]]
name = "proxied"
url = "https://streaming-1:4000/metrics"
bearer_token = "env:STREAMING_TOKEN"
tls_ca = "/etc/mastop/ca.pem"

[[postgres]]
name = "primary"
url = "postgres://mastop@db-1/mastodon"
bearer_token = "env:PG_TOKEN"
"#,
    );
    assert_eq!(
        keys(&errs),
        [
            "elasticsearch[0].tls_ca",
            "elasticsearch[1].bearer_token",
            "postgres[0].bearer_token",
        ]
    );
    assert!(
        errs[0].message.contains("plain http://"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[1]
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("keep one")),
        "{:?}",
        errs[1].hint
    );
}
