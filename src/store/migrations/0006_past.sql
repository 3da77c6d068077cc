-- mastop ops store, schema version 6: a component's past apart from its present. The
-- history a collector keeps is a hundred times the size of the latest status and reading,
-- and a watcher needs it only the first time it sees a component (after that it keeps its
-- own), so it lives in a column of its own that a watcher's fetch leaves out for the
-- components it already holds.

ALTER TABLE mastop_live_components ADD COLUMN past jsonb;
