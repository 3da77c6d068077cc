-- mastop ops store, schema version 3: the live operating room. One collector polls
-- production and publishes, per component, its latest status and redacted reading with a
-- little history; watching consoles read them here instead of polling production. Every
-- change bumps a sequence number, so a console that missed notifications (a reconnect)
-- catches up by asking for everything after the last number it saw.

CREATE SEQUENCE mastop_live_seq;

CREATE TABLE mastop_live_components (
    id          text PRIMARY KEY,
    -- Config order, so every console lists the fleet the same way.
    position    int         NOT NULL,
    seq         bigint      NOT NULL,
    -- The whole published component (meta, redacted status, stored reading, history);
    -- the columns above are copies for querying.
    component   jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX mastop_live_components_seq ON mastop_live_components (seq);

-- At most one row: who collects, and when it last published (watchers show its age).
CREATE TABLE mastop_live_collector (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    host        text        NOT NULL,
    pid         int         NOT NULL,
    format      int         NOT NULL,
    started_at  timestamptz NOT NULL,
    beat_at     timestamptz NOT NULL
);

-- Who is in the room: each watching console refreshes its own row.
CREATE TABLE mastop_presence (
    console_id  text PRIMARY KEY,
    who         text        NOT NULL,
    role        text        NOT NULL,
    host        text        NOT NULL,
    view        text        NOT NULL,
    beat_at     timestamptz NOT NULL
);
