-- mastop ops store, schema version 4: who is in the room and what is done in it. A
-- presence row belongs to the database role that wrote it, and row-level security keeps a
-- watcher's credentials to its own row; the collector states its cadence so watchers can
-- tell a quiet room from a dead collector; audit records get an order of arrival and are
-- announced on the live channel (their id only), so every console shows them as they land.

ALTER TABLE mastop_presence ADD COLUMN db_user text NOT NULL DEFAULT current_user;
ALTER TABLE mastop_presence ENABLE ROW LEVEL SECURITY;
CREATE POLICY mastop_presence_read ON mastop_presence FOR SELECT USING (true);
CREATE POLICY mastop_presence_own ON mastop_presence FOR ALL
    USING (db_user = current_user) WITH CHECK (db_user = current_user);
CREATE INDEX mastop_presence_beat ON mastop_presence (beat_at);

ALTER TABLE mastop_live_collector ADD COLUMN cadence_ms int NOT NULL DEFAULT 2000;

ALTER TABLE mastop_audit ADD COLUMN seq bigserial;
CREATE UNIQUE INDEX mastop_audit_seq ON mastop_audit (seq);

CREATE FUNCTION mastop_audit_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mastop_live', 'audit/' || NEW.seq);
    RETURN NEW;
END $$;

CREATE TRIGGER mastop_audit_announce AFTER INSERT ON mastop_audit
    FOR EACH ROW EXECUTE FUNCTION mastop_audit_announce();
