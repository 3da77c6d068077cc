//! The file as written, before any check: what serde reads.

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunbook {
    pub(super) name: String,
    pub(super) title: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) role: Option<String>,
    pub(super) risk: String,
    #[serde(default)]
    pub(super) rollback: String,
    #[serde(default, rename = "param")]
    pub(super) params: Vec<RawParam>,
    #[serde(default, rename = "precondition")]
    pub(super) preconditions: Vec<RawCondition>,
    #[serde(default, rename = "step")]
    pub(super) steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) default: Option<toml::Value>,
    #[serde(default = "yes")]
    pub(super) required: bool,
    #[serde(default)]
    pub(super) allowed: Vec<String>,
    #[serde(default)]
    pub(super) pattern: Option<String>,
    #[serde(default)]
    pub(super) max_length: Option<usize>,
    #[serde(default)]
    pub(super) min: Option<toml::Value>,
    #[serde(default)]
    pub(super) max: Option<toml::Value>,
    #[serde(default)]
    pub(super) values: Vec<String>,
    #[serde(default)]
    pub(super) role: Option<String>,
    #[serde(default)]
    pub(super) component: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) title: String,
    #[serde(default)]
    pub(super) ssh: Option<Vec<String>>,
    #[serde(default)]
    pub(super) hosts: Option<RawHosts>,
    #[serde(default)]
    pub(super) one_at_a_time: bool,
    #[serde(default)]
    pub(super) gate: Option<RawCondition>,
    #[serde(default)]
    pub(super) sql: Option<String>,
    #[serde(default)]
    pub(super) params: Option<Vec<String>>,
    #[serde(default)]
    pub(super) on: Option<String>,
    #[serde(default)]
    pub(super) redis: Option<Vec<String>>,
    #[serde(default)]
    pub(super) http: Option<String>,
    #[serde(default)]
    pub(super) method: Option<String>,
    #[serde(default)]
    pub(super) wait: Option<RawCondition>,
    #[serde(default)]
    pub(super) dry_run: Option<RawDryRun>,
    #[serde(default)]
    pub(super) read_only: bool,
    #[serde(default)]
    pub(super) deadline: Option<String>,
    #[serde(default)]
    pub(super) cooldown: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawDryRun {
    Argv(Vec<String>),
    Sql {
        sql: String,
        #[serde(default)]
        params: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHosts {
    #[serde(default)]
    pub(super) role: Option<String>,
    #[serde(default)]
    pub(super) tag: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    #[serde(default)]
    pub(super) title: Option<String>,
    #[serde(default)]
    pub(super) http: Option<String>,
    #[serde(default)]
    pub(super) status: Option<u16>,
    #[serde(default)]
    pub(super) sql: Option<String>,
    #[serde(default)]
    pub(super) params: Vec<String>,
    #[serde(default)]
    pub(super) on: Option<String>,
    #[serde(default)]
    pub(super) redis: Option<Vec<String>>,
    #[serde(default)]
    pub(super) expect: Option<String>,
    #[serde(default)]
    pub(super) delay: Option<String>,
    #[serde(default)]
    pub(super) timeout: Option<String>,
    #[serde(default)]
    pub(super) interval: Option<String>,
}

fn yes() -> bool {
    true
}
