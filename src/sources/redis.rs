//! redis source (being written).

use crate::config::{Defaults, EndpointConfig};
use crate::model::FigureSpec;

use super::SourceSpec;

pub const KIND: &str = "redis";
pub const FIGURES: &[FigureSpec] = &[];

pub fn spec(_config: &EndpointConfig, _defaults: &Defaults) -> SourceSpec {
    todo!()
}
