//! The ops store's schema, kept by mastop itself: numbered migrations recorded in
//! `mastop_schema_migrations`, applied at connect in one transaction under an advisory lock.

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::action_queries::get;
use super::failure::{CallResult, Failure};

/// `(version, SQL)`, in order. A migration is never edited once released: changes are a
/// new version.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_handoffs.sql")),
    (3, include_str!("migrations/0003_live.sql")),
    (4, include_str!("migrations/0004_room.sql")),
    (5, include_str!("migrations/0005_leader.sql")),
    (6, include_str!("migrations/0006_past.sql")),
];

/// The schema version this binary writes.
pub fn schema_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Serialises migrations between consoles: "mastop" in ASCII.
const MIGRATION_LOCK: i64 = 0x6d61_7374_6f70;

/// Applies the migrations this database lacks. The common case — schema already current —
/// only reads, so a console whose role may not create tables still connects.
pub(super) async fn migrate(client: &Client) -> CallResult<()> {
    const STEP: &str = "read the schema version";
    let present: bool = {
        let row = client
            .query_typed_one(
                "SELECT to_regclass('mastop_schema_migrations') IS NOT NULL AS present",
                &[],
            )
            .await
            .map_err(|error| Failure::Driver { step: STEP, error })?;
        get(&row, STEP, "present")?
    };
    if present && check_version(current_version(client).await?)? == schema_version() {
        return Ok(());
    }
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|error| Failure::Driver {
            step: "begin the migration",
            error,
        })?;
    let applied = apply_migrations(client).await;
    match applied {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(|error| Failure::Driver {
                step: "commit the migration",
                error,
            }),
        Err(failure) => {
            // The rollback's own result does not matter: the connect fails and drops this
            // session, and the server rolls back whatever is left when the socket closes.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(failure)
        }
    }
}

async fn apply_migrations(client: &Client) -> CallResult<()> {
    client
        .query_typed(
            "SELECT pg_advisory_xact_lock($1)",
            &[(&MIGRATION_LOCK, Type::INT8)],
        )
        .await
        .map_err(|error| Failure::Driver {
            step: "wait for other consoles' migrations",
            error,
        })?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS mastop_schema_migrations (\
             version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(|error| Failure::Driver {
            step: "create the schema version table",
            error,
        })?;
    // Read again under the lock: another console may have migrated meanwhile.
    let current = check_version(current_version(client).await?)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        client
            .batch_execute(sql)
            .await
            .map_err(|error| Failure::Driver {
                step: "apply a schema migration",
                error,
            })?;
        client
            .query_typed(
                "INSERT INTO mastop_schema_migrations (version, applied_at) VALUES ($1, now())",
                &[(version, Type::INT4)],
            )
            .await
            .map_err(|error| Failure::Driver {
                step: "record a schema migration",
                error,
            })?;
        tracing::info!(version, "ops store schema migrated");
    }
    Ok(())
}

async fn current_version(client: &Client) -> CallResult<i32> {
    const STEP: &str = "read the schema version";
    let row = client
        .query_typed_one(
            "SELECT coalesce(max(version), 0)::int4 AS version FROM mastop_schema_migrations",
            &[],
        )
        .await
        .map_err(|error| Failure::Driver { step: STEP, error })?;
    get(&row, STEP, "version")
}

fn check_version(found: i32) -> CallResult<i32> {
    let known = schema_version();
    if found > known {
        return Err(Failure::Answer {
            step: "check the schema version",
            detail: format!(
                "the database has mastop schema version {found}, newer than this mastop knows ({known}) — \
                 upgrade mastop on this console; it will not write to a schema it does not know"
            ),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_up_without_gaps() {
        for (i, (version, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(usize::try_from(*version).ok(), Some(i + 1));
            assert!(!sql.trim().is_empty());
        }
        assert_eq!(schema_version(), 6);
    }
}
