-- Calls up right now, each with its record so far (JSON), written at the
-- start and at the answer and deleted once the final record is stored. A
-- gateway killed mid-call finds them at its next start and records them.
-- seen_at: when the gateway last confirmed it was running (every 30 s).
CREATE TABLE calls_in_progress (
    id      TEXT    PRIMARY KEY,
    record  TEXT    NOT NULL,
    seen_at INTEGER NOT NULL
);
