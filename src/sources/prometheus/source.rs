//! Polling one Prometheus: the targets decide; the rules and the version are asked at the
//! same time, and their failure is shown, not fatal.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::api::envelope;
use super::{DownTarget, FailingRule, KEPT, KIND, PrometheusReading};
use crate::config::{Defaults, EndpointConfig};
use crate::model::alerts::Labels;
use crate::net::service::Service;
use crate::sources::{PollError, PollResult, Schedule, Source, SourceSpec};

/// A thousand targets with their labels are a few MiB.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(PrometheusSource::new(config, schedule))
    })
}

pub struct PrometheusSource {
    service: Result<Service, String>,
    schedule: Schedule,
}

/// The service a `[[prometheus]]` entry describes, for every client of its API.
pub fn service(config: &EndpointConfig) -> Result<Service, String> {
    Service::for_endpoint("prometheus", config, MAX_BODY)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Targets {
    #[serde(default)]
    active_targets: Vec<Target>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    scrape_pool: String,
    #[serde(default)]
    last_error: String,
    #[serde(default)]
    health: String,
}

#[derive(Deserialize)]
struct Rules {
    #[serde(default)]
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    #[serde(default)]
    name: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    health: String,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
struct BuildInfo {
    #[serde(default)]
    version: Option<String>,
}

/// `/api/v1/targets?state=active` into the reading's target counts.
pub fn apply_targets(reading: &mut PrometheusReading, body: &[u8]) -> Result<(), String> {
    let targets: Targets = envelope(body, "/api/v1/targets")?;
    for t in targets.active_targets {
        match t.health.as_str() {
            "up" => reading.targets_up += 1,
            "down" => {
                reading.targets_down += 1;
                if reading.down.len() < KEPT {
                    reading.down.push(DownTarget {
                        job: t.labels.get("job").cloned().unwrap_or(t.scrape_pool),
                        instance: t.labels.get("instance").cloned().unwrap_or_default(),
                        error: t.last_error,
                    });
                }
            }
            _ => reading.targets_unknown += 1,
        }
    }
    Ok(())
}

/// `/api/v1/rules` into the reading's rule counts.
pub fn apply_rules(reading: &mut PrometheusReading, body: &[u8]) -> Result<(), String> {
    let rules: Rules = envelope(body, "/api/v1/rules")?;
    for group in rules.groups {
        for rule in group.rules {
            reading.rules += 1;
            if rule.health == "err" {
                reading.rules_failing += 1;
                if reading.failing.len() < KEPT {
                    reading.failing.push(FailingRule {
                        group: group.name.clone(),
                        name: rule.name.clone(),
                        error: rule.last_error.clone().unwrap_or_default(),
                    });
                }
            }
            if rule.kind == "alerting" {
                match rule.state.as_deref() {
                    Some("firing") => reading.alert_rules_firing += 1,
                    Some("pending") => reading.alert_rules_pending += 1,
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

impl PrometheusSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        PrometheusSource {
            service: service(config),
            schedule,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let service = self
            .service
            .as_mut()
            .map_err(|e| PollError::Failed(e.clone()))?;
        let at = format!("prometheus at {}", service.base.shown());
        let by = tokio::time::Instant::now() + self.schedule.deadline.mul_f64(0.9);
        let auth = service
            .authorization(&at)
            .await
            .map_err(PollError::Failed)?;
        let (targets, rules, build) = {
            let service = &*service;
            tokio::join!(
                service.get("/api/v1/targets?state=active", &auth, by),
                service.get("/api/v1/rules", &auth, by),
                service.get("/api/v1/status/buildinfo", &auth, by),
            )
        };
        let targets = targets.map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match targets.status {
            200 => {}
            401 | 403 => {
                service.refused();
                return Err(PollError::Denied(format!(
                    "{at}: HTTP {} for /api/v1/targets — check the user in url and `password`, or `bearer_token`",
                    targets.status
                )));
            }
            _ => {
                return Err(PollError::Failed(format!(
                    "{at}: /api/v1/targets answered {}",
                    targets.status_text()
                )));
            }
        }
        let mut reading = PrometheusReading::default();
        apply_targets(&mut reading, &targets.body)
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match rules {
            Ok(a) if a.status == 200 => {
                if let Err(e) = apply_rules(&mut reading, &a.body) {
                    reading.rules_error = Some(e);
                }
            }
            Ok(a) => {
                reading.rules_error = Some(format!("/api/v1/rules answered {}", a.status_text()))
            }
            Err(e) => reading.rules_error = Some(format!("/api/v1/rules: {e}")),
        }
        if let Ok(a) = build
            && a.status == 200
            && let Ok(info) = envelope::<BuildInfo>(&a.body, "buildinfo")
        {
            reading.version = info.version;
        }
        Ok(Arc::new(reading))
    }
}

impl Source for PrometheusSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_rules_are_counted() {
        let mut r = PrometheusReading::default();
        let targets = br#"{"status":"success","data":{"activeTargets":[
          {"labels":{"job":"node","instance":"db-1:9100"},"scrapePool":"node","health":"up","lastError":""},
          {"labels":{"job":"node","instance":"web-1:9100"},"scrapePool":"node","health":"down","lastError":"connection refused"},
          {"labels":{},"scrapePool":"x","health":"unknown"}],"droppedTargets":[]}}"#;
        apply_targets(&mut r, targets).expect("parses");
        assert_eq!((r.targets_up, r.targets_down, r.targets_unknown), (1, 1, 1));
        assert_eq!(r.down[0].instance, "web-1:9100");
        let rules = br#"{"status":"success","data":{"groups":[{"name":"g","file":"f","rules":[
          {"name":"Always","type":"alerting","health":"ok","state":"firing"},
          {"name":"Never","type":"alerting","health":"ok","state":"inactive"},
          {"name":"job:up:sum","type":"recording","health":"err","lastError":"bad"}]}]}}"#;
        apply_rules(&mut r, rules).expect("parses");
        assert_eq!((r.rules, r.rules_failing, r.alert_rules_firing), (3, 1, 1));
        use crate::model::Reading;
        let findings: Vec<String> = r.findings().into_iter().map(|f| f.message).collect();
        assert_eq!(
            findings,
            [
                "1 scrape targets down, e.g. node web-1:9100",
                "1 rules fail to evaluate: their alerts cannot fire"
            ]
        );
    }
}
