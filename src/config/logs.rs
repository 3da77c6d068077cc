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

/// The most lines a log view may be told to keep: past this the ring no longer bounds
/// the console's memory in any useful sense (a million lines of 16 KiB is 16 GiB).
pub const MAX_RING_LINES: usize = 1_000_000;

/// A pattern's compiled size bound, as the signature set compiles it.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// `[logs]` and its signatures, refused at load rather than at the first log read: a bad
/// pattern would otherwise only show later as a count that never comes.
pub(super) fn validate(config: &LogsConfig) -> Vec<super::rules::Problem> {
    use super::locate::Seg;
    let mut problems = Vec::new();
    let at = |keys: &[Seg]| {
        std::iter::once(Seg::Key("logs".into()))
            .chain(keys.iter().cloned())
            .collect::<Vec<_>>()
    };
    if config.ring_lines == 0 || config.ring_lines > MAX_RING_LINES {
        problems.push((
            at(&[Seg::Key("ring_lines".into())]),
            format!(
                "a log view keeping {} lines {}",
                config.ring_lines,
                if config.ring_lines == 0 {
                    "shows nothing"
                } else {
                    "is no bound on the console's memory"
                }
            ),
            Some(format!(
                "use between 1 and {MAX_RING_LINES} (the default is 10000)"
            )),
        ));
    }
    for (i, signature) in config.signature.iter().enumerate() {
        let key = |k: &str| {
            at(&[
                Seg::Key("signature".into()),
                Seg::Index(i),
                Seg::Key(k.into()),
            ])
        };
        if signature.name.trim().is_empty() {
            problems.push((
                key("name"),
                "a log signature needs a name: it is what health and the view show".into(),
                Some("e.g. name = \"S3 access denied\"".into()),
            ));
        }
        if let Err(e) = regex::RegexBuilder::new(&signature.pattern)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
        {
            let first = e.to_string();
            let first = first
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .unwrap_or_else(|| first.lines().next().unwrap_or(""))
                .trim_start_matches("error: ")
                .to_string();
            problems.push((
                key("pattern"),
                format!("not a regular expression: {first}"),
                Some("patterns are Rust regular expressions; escape `(`, `[`, `.` and `\\` to match them literally".into()),
            ));
        }
        let rates = [
            ("warn_per_min", signature.warn_per_min),
            ("crit_per_min", signature.crit_per_min),
        ];
        for (name, rate) in rates {
            if !rate.is_finite() || rate <= 0.0 {
                problems.push((
                    key(name),
                    format!("`{name}` must be a number of matches per minute above 0"),
                    Some("e.g. warn_per_min = 1.0, crit_per_min = 10.0".into()),
                ));
            }
        }
        if signature.warn_per_min.is_finite()
            && signature.crit_per_min.is_finite()
            && signature.warn_per_min > signature.crit_per_min
        {
            problems.push((
                key("crit_per_min"),
                format!(
                    "`crit_per_min` ({}) is below `warn_per_min` ({}): a rate would be critical before it warns",
                    signature.crit_per_min, signature.warn_per_min
                ),
                Some("raise crit_per_min to at least warn_per_min".into()),
            ));
        }
    }
    problems
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
