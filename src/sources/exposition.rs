//! The Prometheus text exposition format (node_exporter's and the streaming server's
//! `/metrics`), parsed into samples. Lenient the way an operator needs: a line it cannot
//! read is skipped and counted, so one odd textfile-collector metric never blinds the whole
//! host, and the count is shown with the reading rather than lost.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Metric {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Exposition {
    pub metrics: Vec<Metric>,
    /// Lines that could not be read: (1-based line number, why).
    pub skipped: Vec<(usize, String)>,
}

impl Exposition {
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Metric> + 'a {
        self.metrics.iter().filter(move |m| m.name == name)
    }

    /// The value of the only (or first) sample of `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.named(name).next().map(|m| m.value)
    }

    /// What was skipped, for the reading; `None` when every line was read.
    pub fn skipped_lines(&self) -> Option<SkippedLines> {
        let (line, why) = self.skipped.first()?;
        Some(SkippedLines {
            count: self.skipped.len(),
            first_line: *line,
            first_reason: crate::sanitize::sanitize_truncated(why, 80),
        })
    }
}

/// Lines of a metrics page that could not be read: how many, and the first one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedLines {
    pub count: usize,
    pub first_line: usize,
    pub first_reason: String,
}

impl std::fmt::Display for SkippedLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line{} of /metrics skipped (line {}: {})",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.first_line,
            self.first_reason
        )
    }
}

pub fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(metric) => out.metrics.push(metric),
            Err(why) => out.skipped.push((i + 1, why)),
        }
    }
    out
}

fn parse_line(line: &str) -> Result<Metric, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("no metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = parse_labels(after)?;
        labels = parsed;
        rest = remaining;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value).ok_or_else(|| format!("`{}` is not a number", short(value)))?;
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("`{}` is not a timestamp", short(ts)));
    }
    if fields.next().is_some() {
        return Err("unexpected text after the value".into());
    }
    Ok(Metric {
        name: name.to_string(),
        labels,
        value,
    })
}

type Labels = Vec<(String, String)>;

/// `a="x",b="y\"z"}` → the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("label without `=`")?;
        let key = s[..eq].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label name `{}`", short(key)));
        }
        s = s[eq + 1..].trim_start();
        s = s.strip_prefix('"').ok_or("label value without quotes")?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                },
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        labels.push((key.to_string(), value));
        s = s[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_labels_escapes_and_special_values() {
        let text = r#"# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.52
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 2.7e+10
weird{path="C:\\dir",quote="say \"hi\"",nl="a\nb",} 1 1700000000000
node_scrape_collector_success{collector="nfs"} +Inf
x{} NaN
"#;
        let e = parse(text);
        assert!(e.skipped.is_empty(), "{:?}", e.skipped);
        assert_eq!(e.value("node_load1"), Some(0.52));
        let fs = e.named("node_filesystem_avail_bytes").next().expect("fs");
        assert_eq!(fs.label("mountpoint"), Some("/"));
        assert_eq!(fs.value, 2.7e10);
        let w = e.named("weird").next().expect("weird");
        assert_eq!(w.label("path"), Some("C:\\dir"));
        assert_eq!(w.label("quote"), Some("say \"hi\""));
        assert_eq!(w.label("nl"), Some("a\nb"));
        assert_eq!(
            e.value("node_scrape_collector_success"),
            Some(f64::INFINITY)
        );
        assert!(e.value("x").is_some_and(f64::is_nan));
    }

    #[test]
    fn broken_lines_are_skipped_with_their_line_numbers() {
        let text = "ok 1\n{no_name=\"x\"} 1\nbad{a=\"x} 1\nbad2{a=x} 1\nbad3 notanumber\nbad4 1 2 3\nbad5{a=\"1\"b=\"2\"} 1\nok2 2\n\u{1b}[2J 5\n";
        let e = parse(text);
        assert_eq!(e.metrics.len(), 2);
        let lines: Vec<usize> = e.skipped.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 9]);
        assert_eq!(
            e.skipped_lines().map(|s| s.to_string()).as_deref(),
            Some("7 lines of /metrics skipped (line 2: no metric name)")
        );
        assert_eq!(parse("ok 1\n").skipped_lines(), None);
    }

    #[test]
    fn what_the_streaming_server_sends() {
        // Escaped quotes and braces inside label values, a trailing timestamp.
        let e = parse(
            "# HELP x y\nup 1\nreq{a=\"1\",b=\"x\\\"}y\"} 2.5 1700000000\nbad line\nnan_metric NaN\n{no_name=\"\"} 3\nm{a=\"unterminated} 4\n",
        );
        assert_eq!(e.metrics.len(), 3);
        assert_eq!(e.metrics[1].label("b"), Some("x\"}y"));
        assert_eq!(e.metrics[1].value, 2.5);
        assert!(e.metrics[2].value.is_nan());
        assert_eq!(e.skipped.len(), 3);
    }
}
