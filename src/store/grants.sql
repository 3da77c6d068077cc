-- Least privilege for the ops store's three kinds of client. Run as the owner of mastop's
-- tables once mastop has created them (its first connect as that owner applies the
-- migrations); run again after an upgrade adds tables. Each person or process then logs in
-- as a role of its own that is a member of one of these:
--
--   CREATE ROLE collector   LOGIN PASSWORD '...' IN ROLE mastop_collector;
--   CREATE ROLE alex        LOGIN PASSWORD '...' IN ROLE mastop_oncall;
--   CREATE ROLE sam         LOGIN PASSWORD '...' IN ROLE mastop_watcher;
--
-- The collectors (leader and standby) share one login: PostgreSQL lets a role end only
-- sessions of a role it belongs to, and a standby must end a hung leader's session to take
-- the lead at once. Sharing a login lets each end the other's sessions and no one else's.
-- (Separate logins would need pg_signal_backend, which reaches every non-superuser
-- session of the cluster; without either, a hung leader's session is ended by the server
-- after twice the leader timeout.)
--
-- A watcher's presence row belongs to its own login (row-level security on
-- mastop_presence, set up by migration 4), so one login per watcher is what keeps
-- watchers from speaking for each other. None of these roles holds anything on
-- production: a watcher has no production credentials at all.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mastop_collector') THEN
        CREATE ROLE mastop_collector NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mastop_oncall') THEN
        CREATE ROLE mastop_oncall NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mastop_watcher') THEN
        CREATE ROLE mastop_watcher NOLOGIN;
    END IF;
END $$;

-- Everyone reads the schema version: a console checks it at connect.
GRANT SELECT ON mastop_schema_migrations TO mastop_collector, mastop_oncall, mastop_watcher;

-- The collector writes the live tables and nothing else.
GRANT SELECT, INSERT, UPDATE, DELETE ON mastop_live_components, mastop_live_collector
    TO mastop_collector;
GRANT USAGE, SELECT ON SEQUENCE mastop_live_seq TO mastop_collector;
-- Only a collector may try for the lead (schema version 5).
REVOKE EXECUTE ON FUNCTION mastop_live_try_lead() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mastop_live_try_lead() TO mastop_collector;
-- The lead is an advisory lock on two keys, and any login could take those keys with the
-- two-key lock functions and keep every collector standing by. So in this database only
-- collectors may call them (mastop's own migrations lock with one key, which stays open).
-- This part needs a superuser: run by the owner alone, PostgreSQL warns that no
-- privileges could be revoked, and the keys stay open to every login.
REVOKE EXECUTE ON FUNCTION
    pg_advisory_lock(int4, int4), pg_advisory_lock_shared(int4, int4),
    pg_try_advisory_lock(int4, int4), pg_try_advisory_lock_shared(int4, int4),
    pg_advisory_xact_lock(int4, int4), pg_advisory_xact_lock_shared(int4, int4),
    pg_try_advisory_xact_lock(int4, int4), pg_try_advisory_xact_lock_shared(int4, int4)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_try_advisory_lock(int4, int4) TO mastop_collector;

-- An on-call console reads the room and writes the audit (append only), locks, the
-- freeze, approvals, the shift log and handoffs, and its presence.
GRANT SELECT ON mastop_live_components, mastop_live_collector TO mastop_oncall;
GRANT SELECT, INSERT ON mastop_audit TO mastop_oncall;
GRANT USAGE, SELECT ON SEQUENCE mastop_audit_seq_seq TO mastop_oncall;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON mastop_locks, mastop_freeze, mastop_approvals, mastop_shift_log, mastop_handoffs
    TO mastop_oncall;
GRANT SELECT, INSERT, UPDATE, DELETE ON mastop_presence TO mastop_oncall;

-- A watcher reads the room, the audit and the freeze, and writes only its own presence.
GRANT SELECT ON mastop_live_components, mastop_live_collector, mastop_audit, mastop_freeze
    TO mastop_watcher;
GRANT SELECT, INSERT, UPDATE, DELETE ON mastop_presence TO mastop_watcher;
