-- mastop ops store, schema version 2: follow-the-sun handoffs. The shift log (notes, open
-- items, mitigations, silenced alerts) and the handoff reports with their acknowledgement.

CREATE TABLE mastop_shift_log (
    id            text PRIMARY KEY,
    time          timestamptz NOT NULL,
    kind          text        NOT NULL,
    author        text        NOT NULL,
    console_host  text        NOT NULL,
    -- The whole entry as the console wrote it; the columns above are copies for querying.
    entry         jsonb       NOT NULL
);

CREATE INDEX mastop_shift_log_time ON mastop_shift_log (time, id);

CREATE TABLE mastop_handoffs (
    id                    text PRIMARY KEY,
    written_at            timestamptz NOT NULL,
    from_name             text        NOT NULL,
    to_name               text        NOT NULL,
    console_id            text        NOT NULL,
    report                jsonb       NOT NULL,
    acknowledged_by       text,
    acknowledged_host     text,
    acknowledged_console  text,
    acknowledged_at       timestamptz,
    CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);

CREATE INDEX mastop_handoffs_written ON mastop_handoffs (written_at, id);
