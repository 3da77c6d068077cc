//! host readings (being written).

use crate::model::FigureSpec;

pub const KIND: &str = "host";
pub const FIGURES: &[FigureSpec] = &[];
