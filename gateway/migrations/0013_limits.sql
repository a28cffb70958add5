-- Daily limits per campaign and on international minutes read these: the
-- campaign a call presented and the country it reached.
ALTER TABLE call_records ADD COLUMN campaign_id INTEGER;
ALTER TABLE call_records ADD COLUMN destination_country TEXT;
CREATE INDEX call_records_campaign ON call_records (campaign_id, invite_at);

-- Settings an admin changes at run time (JSON values), e.g. the fraud
-- limits; a setting missing here comes from the gateway's flags.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
