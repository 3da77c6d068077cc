-- mastop ops store, schema version 5: two collectors, one leads. The leader holds an
-- advisory lock on a session of its own and publishes only through that session; each
-- publication and beat checks, in the same statement, that the session still holds the
-- lock, so a collector that lost the lead (a hung one whose session a standby ended, then
-- resumed) is refused by the store and never overwrites the new leader. The beat row names
-- the leader's store session, so a standby can end it once the beat is too old, and the
-- last standby, so watchers and the leader know one is ready.

ALTER TABLE mastop_live_collector
    ADD COLUMN backend_pid       int,
    ADD COLUMN led_since         timestamptz,
    ADD COLUMN leader_timeout_ms int NOT NULL DEFAULT 10000,
    ADD COLUMN standby_host      text,
    ADD COLUMN standby_pid       int,
    ADD COLUMN standby_beat_at   timestamptz;

-- The lock's two keys are "mast" and "live" in ASCII; they appear only here.
CREATE FUNCTION mastop_live_try_lead() RETURNS boolean LANGUAGE sql VOLATILE AS $$
    SELECT pg_try_advisory_lock(1835103092, 1818850917)
$$;

-- The server process of the session holding the lock, if any.
CREATE FUNCTION mastop_live_lock_holder() RETURNS int LANGUAGE sql STABLE AS $$
    SELECT pid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND classid = 1835103092::oid AND objid = 1818850917::oid
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
$$;

-- Whether this session holds the lock: the fence every publication passes.
CREATE FUNCTION mastop_live_leads() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(mastop_live_lock_holder() = pg_backend_pid(), false)
$$;
