//! Reading answers: a query's failure named by its step, and typed columns of a row. Shared
//! by every file that sends a query, so none of them depends on another for it.

use tokio_postgres::Row;

/// Why a poll's reading could not be made.
pub(super) enum Failure {
    /// The driver or the server reported an error during `step`.
    Driver {
        step: &'static str,
        error: tokio_postgres::Error,
    },
    /// The server answered, but not in the shape the query asks for.
    Answer { step: &'static str, detail: String },
}

/// The only row of an answer that must have exactly one.
pub(super) fn one_row(step: &'static str, mut rows: Vec<Row>) -> Result<Row, Failure> {
    let count = rows.len();
    match rows.pop() {
        Some(row) if count == 1 => Ok(row),
        _ => Err(Failure::Answer {
            step,
            detail: format!("{count} rows instead of one"),
        }),
    }
}

pub(super) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    step: &'static str,
    name: &str,
) -> Result<T, Failure> {
    row.try_get(name).map_err(|e| Failure::Answer {
        step,
        detail: format!("column {name}: {e}"),
    })
}
