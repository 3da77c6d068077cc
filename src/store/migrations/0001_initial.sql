-- mastop ops store, schema version 1: shared audit history, locks on targets, the global
-- freeze and four-eyes approvals. Applied by mastop itself, inside one transaction.

CREATE TABLE mastop_audit (
    id            text PRIMARY KEY,
    action_id     text        NOT NULL,
    time          timestamptz NOT NULL,
    phase         text        NOT NULL CHECK (phase IN ('intent', 'outcome')),
    operator      text        NOT NULL,
    console_host  text        NOT NULL,
    console_id    text        NOT NULL,
    role          text        NOT NULL,
    kind          text        NOT NULL,
    target        text        NOT NULL,
    target_key    text        NOT NULL,
    risk          text        NOT NULL,
    -- The whole record as written to the local audit file; the columns above are copies
    -- for querying.
    record        jsonb       NOT NULL
);

-- Cooldowns: the latest intent of one kind on one target.
CREATE INDEX mastop_audit_kind_target_time ON mastop_audit (kind, target_key, time);
-- History views: everything since a moment, oldest first.
CREATE INDEX mastop_audit_time ON mastop_audit (time, id);

CREATE TABLE mastop_locks (
    key          text PRIMARY KEY,
    holder       text        NOT NULL,
    acquired_at  timestamptz NOT NULL,
    -- After this a crashed holder's lock is free for the taking.
    expires_at   timestamptz NOT NULL
);

-- At most one row: present while actions are frozen.
CREATE TABLE mastop_freeze (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    frozen_by  text        NOT NULL,
    reason     text        NOT NULL,
    since      timestamptz NOT NULL
);

CREATE TABLE mastop_approvals (
    id                 text PRIMARY KEY,
    fingerprint        text        NOT NULL,
    summary            text        NOT NULL,
    requested_by       text        NOT NULL,
    requested_console  text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    approved_by        text,
    approved_console   text,
    approved_at        timestamptz,
    expires_at         timestamptz NOT NULL,
    CHECK ((approved_by IS NULL) = (approved_at IS NULL))
);

CREATE INDEX mastop_approvals_pending ON mastop_approvals (requested_at) WHERE approved_at IS NULL;
