//! `[logs]`: how log views read and what they look for. `[[loki]]` entries themselves are
//! ordinary HTTP endpoints (url, tls_ca, password or bearer_token).

use serde::Deserialize;

/// `[logs]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Lines a log view holds; older ones are dropped (and counted) past this.
    #[serde(default = "default_ring_lines")]
    pub ring_lines: usize,
    /// The LogQL stream selector for a unit on a host; `$unit` and `$host` become regular
    /// expressions of the names asked for.
    #[serde(default = "default_selector")]
    pub loki_selector: String,
    /// The Loki label holding the host's name.
    #[serde(default = "default_host_label")]
    pub loki_host_label: String,
    /// The Loki label holding the unit's name.
    #[serde(default = "default_unit_label")]
    pub loki_unit_label: String,
    /// Known signatures of the instance's own, on top of the shipped ones (same name:
    /// replaces it).
    #[serde(default)]
    pub signature: Vec<SignatureConfig>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            ring_lines: default_ring_lines(),
            loki_selector: default_selector(),
            loki_host_label: default_host_label(),
            loki_unit_label: default_unit_label(),
            signature: Vec::new(),
        }
    }
}

/// `[[logs.signature]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    pub name: String,
    /// A regular expression matched against each line.
    pub pattern: String,
    /// Matches per minute that make the source WARN and CRIT.
    #[serde(default = "one")]
    pub warn_per_min: f64,
    #[serde(default = "ten")]
    pub crit_per_min: f64,
}

fn default_ring_lines() -> usize {
    10_000
}

fn default_selector() -> String {
    r#"{unit=~"$unit", host=~"$host"}"#.into()
}

fn default_host_label() -> String {
    "host".into()
}

fn default_unit_label() -> String {
    "unit".into()
}

fn one() -> f64 {
    1.0
}

fn ten() -> f64 {
    10.0
}

#[cfg(test)]
mod tests {
    use super::super::load_str;

    #[test]
    fn loki_entries_and_the_logs_table_are_read() {
        let (config, _) = load_str(
            r#"
[[loki]]
name = "main"
url = "http://loki:3100"

[logs]
ring_lines = 500
loki_selector = '{service_name=~"$unit"}'

[[logs.signature]]
name = "S3 denied"
pattern = "Aws::S3::Errors::AccessDenied"
warn_per_min = 2.0
"#,
            "test.toml",
            &[],
        )
        .unwrap();
        assert_eq!(config.loki.len(), 1);
        assert_eq!(config.logs.ring_lines, 500);
        assert_eq!(config.logs.loki_host_label, "host");
        assert_eq!(config.logs.signature[0].warn_per_min, 2.0);
        assert_eq!(config.logs.signature[0].crit_per_min, 10.0);
    }

    #[test]
    fn a_misspelt_key_and_a_bad_journal_directory_are_errors() {
        let err = load_str("[logs]\nring_line = 5\n", "t.toml", &[]).unwrap_err();
        assert!(err.to_string().contains("ring_line"), "{err}");
        let err = load_str(
            "[[host]]\nname = \"web-1\"\naddress = \"10.0.0.1\"\njournal_directory = \"../j\"\n",
            "t.toml",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("journal_directory"), "{err}");
    }
}
