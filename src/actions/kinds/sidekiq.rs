//! sidekiq actions (being written).

use crate::actions::Action;
use crate::actions::catalog::Selected;
use crate::model::Reading;

pub fn offer(
    _component: &str,
    _reading: &dyn Reading,
    _selected: Option<Selected<'_>>,
) -> Vec<Action> {
    Vec::new()
}
