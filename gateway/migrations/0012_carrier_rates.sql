-- Each carrier's rate table: price per minute by E.164 prefix (digits, no
-- `+`), in 1/10000 of the carrier's currency (`shared::rates`). Replaced
-- as a whole by `PUT /api/v1/carriers/{id}/rates`; gone with the carrier.
CREATE TABLE carrier_rates (
    carrier_id        INTEGER NOT NULL REFERENCES carriers (id) ON DELETE CASCADE,
    prefix            TEXT    NOT NULL,
    price_per_minute  INTEGER NOT NULL,
    description       TEXT,
    PRIMARY KEY (carrier_id, prefix)
) WITHOUT ROWID;

-- The call's estimated cost (same unit) from its carrier's rates when the
-- record was written; NULL when no rate matched, for inbound calls and for
-- older records.
ALTER TABLE call_records ADD COLUMN estimated_cost INTEGER;
