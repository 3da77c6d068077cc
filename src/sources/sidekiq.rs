//! sidekiq readings (being written).

use crate::model::FigureSpec;

pub const KIND: &str = "sidekiq";
pub const FIGURES: &[FigureSpec] = &[];
