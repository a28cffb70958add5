-- Media quality per call (the JSON of shared::api::CallQuality), with the
-- carrier leg's summary figures as columns the Quality page sorts on.
ALTER TABLE call_records ADD COLUMN quality TEXT;
ALTER TABLE call_records ADD COLUMN carrier_mos REAL;
ALTER TABLE call_records ADD COLUMN carrier_loss REAL;
ALTER TABLE call_records ADD COLUMN carrier_jitter_ms REAL;
CREATE INDEX call_records_carrier_mos ON call_records (carrier_mos, invite_at)
    WHERE carrier_mos IS NOT NULL;

-- Per carrier and time bucket ('hour' or 'day', start in Unix seconds):
-- the sums and histograms of gateway::quality::Bucket as JSON, updated as
-- each record is written.
CREATE TABLE carrier_quality (
    carrier_id   INTEGER NOT NULL,
    bucket       TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    carrier      TEXT NOT NULL,
    figures      TEXT NOT NULL,
    PRIMARY KEY (carrier_id, bucket, bucket_start)
);

-- A carrier's alert thresholds over the last hour (shared::api::QualityThreshold),
-- and the last hour an alert was raised for it (once an hour at most).
CREATE TABLE quality_thresholds (
    carrier_id   INTEGER PRIMARY KEY,
    min_mos      REAL,
    min_asr      REAL,
    min_calls    INTEGER NOT NULL DEFAULT 5,
    alerted_hour INTEGER
);
