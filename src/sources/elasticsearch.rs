//! elasticsearch readings (being written).

use crate::model::FigureSpec;

pub const KIND: &str = "elasticsearch";
pub const FIGURES: &[FigureSpec] = &[];
