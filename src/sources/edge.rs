//! edge readings (being written).

use crate::model::FigureSpec;

pub const KIND: &str = "edge";
pub const FIGURES: &[FigureSpec] = &[];
