//! Prometheus's HTTP query API (`/api/v1/query`, `/api/v1/query_range`): building the
//! requests and reading the answers. Anything that speaks this API (Thanos, Mimir,
//! VictoriaMetrics) answers the same way.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::time::Instant;

use crate::model::alerts::Labels;
use crate::net::service::{Authorization, Service};

/// Prometheus refuses a range query of more than this many points per series.
pub const MAX_POINTS: u64 = 11_000;

/// One series' value at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub metric: Labels,
    /// Seconds since the epoch, as Prometheus stamped it.
    pub at: f64,
    pub value: f64,
}

/// One series over a range: `(time, value)` oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub metric: Labels,
    pub values: Vec<(f64, f64)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    status: String,
    #[serde(default = "none")]
    data: Option<T>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<T> {
    result_type: String,
    result: Vec<T>,
}

#[derive(Deserialize)]
struct RawSample {
    #[serde(default)]
    metric: Labels,
    value: (f64, String),
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: Labels,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn none<T>() -> Option<T> {
    None
}

/// Reads `{"status":"success","data":…}`; an error answer comes back in Prometheus's own
/// words, shortened and sanitised.
pub fn envelope<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, String> {
    let env: Envelope<T> = serde_json::from_slice(body)
        .map_err(|e| format!("{what}: not a Prometheus API answer ({e})"))?;
    if env.status != "success" {
        let reason = env.error.unwrap_or_default();
        return Err(format!(
            "{what}: Prometheus said {}: {}",
            crate::sanitize::sanitize_truncated(env.error_type.as_deref().unwrap_or("error"), 40),
            crate::sanitize::sanitize_truncated(&reason, 200)
        ));
    }
    env.data
        .ok_or_else(|| format!("{what}: a successful answer without data"))
}

/// A Prometheus number: `"1.5"`, `"NaN"`, `"+Inf"`.
fn number(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

pub fn parse_vector(body: &[u8]) -> Result<Vec<Sample>, String> {
    let data: Data<RawSample> = envelope(body, "query")?;
    if data.result_type != "vector" {
        return Err(format!(
            "query: expected an instant vector, got a {}",
            crate::sanitize::sanitize_truncated(&data.result_type, 20)
        ));
    }
    Ok(data
        .result
        .into_iter()
        .map(|s| Sample {
            metric: s.metric,
            at: s.value.0,
            value: number(&s.value.1),
        })
        .collect())
}

pub fn parse_matrix(body: &[u8]) -> Result<Vec<Series>, String> {
    let data: Data<RawSeries> = envelope(body, "query_range")?;
    if data.result_type != "matrix" {
        return Err(format!(
            "query_range: expected a range vector, got a {}",
            crate::sanitize::sanitize_truncated(&data.result_type, 20)
        ));
    }
    Ok(data
        .result
        .into_iter()
        .map(|s| Series {
            metric: s.metric,
            values: s.values.iter().map(|(t, v)| (*t, number(v))).collect(),
        })
        .collect())
}

/// Percent-encodes a query parameter (everything but RFC 3986's unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `/api/v1/query?query=…`
pub fn query_path(expr: &str) -> String {
    format!("/api/v1/query?query={}", encode(expr))
}

/// `/api/v1/query_range?query=…&start=…&end=…&step=…`, the step widened if the range would
/// hold more points than Prometheus accepts.
pub fn range_path(expr: &str, start: SystemTime, end: SystemTime, step: Duration) -> String {
    let span = end.duration_since(start).unwrap_or_default().as_secs();
    let step = step.as_secs().max(1).max(span.div_ceil(MAX_POINTS - 1));
    format!(
        "/api/v1/query_range?query={}&start={:.3}&end={:.3}&step={step}",
        encode(expr),
        unix(start),
        unix(end)
    )
}

/// One request's worth of an answer, as text for an error message when it failed.
async fn get(
    service: &Service,
    path: &str,
    auth: &Authorization,
    by: Instant,
) -> Result<Vec<u8>, String> {
    let answer = service
        .get(path, auth, by)
        .await
        .map_err(|e| e.to_string())?;
    match answer.status {
        200 => Ok(answer.body),
        // Prometheus explains a bad query in a JSON body with 400 or 422.
        400 | 422 | 503 => Err(envelope::<serde_json::Value>(&answer.body, "query")
            .err()
            .unwrap_or_else(|| answer.status_text())),
        _ => Err(answer.status_text()),
    }
}

pub async fn query(
    service: &Service,
    expr: &str,
    auth: &Authorization,
    by: Instant,
) -> Result<Vec<Sample>, String> {
    parse_vector(&get(service, &query_path(expr), auth, by).await?)
}

pub async fn query_range(
    service: &Service,
    expr: &str,
    range: (SystemTime, SystemTime),
    step: Duration,
    auth: &Authorization,
    by: Instant,
) -> Result<Vec<Series>, String> {
    parse_matrix(&get(service, &range_path(expr, range.0, range.1, step), auth, by).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_and_matrices_read_like_prometheus_writes_them() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
          {"metric":{"instance":"db-1:9100","job":"node"},"value":[1714557600.5,"0.25"]},
          {"metric":{},"value":[1714557600.5,"NaN"]}]}}"#;
        let v = parse_vector(body).expect("parses");
        assert_eq!(v[0].metric["instance"], "db-1:9100");
        assert_eq!((v[0].at, v[0].value), (1_714_557_600.5, 0.25));
        assert!(v[1].value.is_nan());
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"instance":"a"},"values":[[1,"1"],[2,"+Inf"]]}]}}"#;
        let m = parse_matrix(body).expect("parses");
        assert_eq!(m[0].values, [(1.0, 1.0), (2.0, f64::INFINITY)]);
        assert!(
            parse_matrix(
                b"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}"
            )
            .is_err()
        );
    }

    #[test]
    fn errors_come_back_in_prometheus_words_without_escapes() {
        let body = b"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error \\u001b[31mhere\"}";
        let e = parse_vector(body).unwrap_err();
        assert_eq!(e, "query: Prometheus said bad_data: parse error here");
        assert!(
            parse_vector(b"<html>")
                .unwrap_err()
                .contains("not a Prometheus API answer")
        );
    }

    #[test]
    fn queries_are_encoded_and_ranges_bounded() {
        assert_eq!(
            query_path("up{job=\"node\"} == 0"),
            "/api/v1/query?query=up%7Bjob%3D%22node%22%7D%20%3D%3D%200"
        );
        let end = SystemTime::UNIX_EPOCH + Duration::from_secs(100_000);
        let start = end - Duration::from_secs(3600);
        let p = range_path("x", start, end, Duration::from_secs(60));
        assert!(
            p.ends_with("&start=96400.000&end=100000.000&step=60"),
            "{p}"
        );
        let start = end - Duration::from_secs(90_000);
        let p = range_path("x", start, end, Duration::from_secs(1));
        assert!(p.ends_with("&step=9"), "at most 11,000 points: {p}");
    }
}
