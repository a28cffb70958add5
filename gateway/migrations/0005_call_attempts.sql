-- Every carrier a call was tried on (failover), as a JSON array of
-- {carrier_id, carrier, code, reason, at}; the last one is the call's own.
ALTER TABLE call_records ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]';
