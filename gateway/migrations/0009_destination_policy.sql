-- Destination policy (who may call where): one row per role default, per
-- agent of its own, or per campaign; exactly one of the three keys is set.
-- `policy` is the JSON of shared::policy::DestinationPolicy, validated by
-- the API before it is written.
CREATE TABLE destination_policies (
    id          INTEGER PRIMARY KEY,
    role        TEXT    UNIQUE CHECK (role IN ('admin', 'supervisor', 'agent')),
    account_id  INTEGER UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id INTEGER UNIQUE REFERENCES campaigns (id) ON DELETE CASCADE,
    policy      TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK ((role IS NOT NULL) + (account_id IS NOT NULL) + (campaign_id IS NOT NULL) = 1)
);

-- The high-risk and premium prefix list as an admin edited it (JSON list
-- of shared::destination::PrefixEntry); no row: the shipped list.
CREATE TABLE high_risk_prefixes (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    entries    TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
