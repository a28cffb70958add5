-- Administration: carrier registration and qualify settings, agents' limits,
-- API tokens, the audit log and campaigns (named sets of caller IDs).

ALTER TABLE carriers ADD COLUMN realm TEXT;
ALTER TABLE carriers ADD COLUMN register INTEGER NOT NULL DEFAULT 0;
ALTER TABLE carriers ADD COLUMN register_expiry_s INTEGER NOT NULL DEFAULT 3600
    CHECK (register_expiry_s BETWEEN 60 AND 86400);
ALTER TABLE carriers ADD COLUMN qualify INTEGER NOT NULL DEFAULT 1;
ALTER TABLE carriers ADD COLUMN qualify_interval_s INTEGER NOT NULL DEFAULT 30
    CHECK (qualify_interval_s BETWEEN 1 AND 3600);

ALTER TABLE accounts ADD COLUMN max_calls INTEGER NOT NULL DEFAULT 1;
-- Present the owned DID nearest the callee when the agent picks none.
ALTER TABLE accounts ADD COLUMN local_presence INTEGER NOT NULL DEFAULT 0;

-- 0: a row that only marks the default, a number the agent may present
-- through a campaign (it stops being usable when the campaign lets go).
ALTER TABLE agent_caller_ids ADD COLUMN allowed INTEGER NOT NULL DEFAULT 1;

-- Tokens for integrations (`Authorization: Bearer dlr_…`): only the SHA-256
-- of the token is kept; it is shown once, when created.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0
);

-- Every change made through the API: who, what, when, old → new (JSON with
-- secrets left out).
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    -- Unix milliseconds
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    entity    TEXT    NOT NULL,
    entity_id TEXT,
    old_json  TEXT,
    new_json  TEXT
);
CREATE INDEX audit_log_entity ON audit_log (entity, id);

CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

-- The caller IDs (E.164, our DIDs) a campaign presents.
CREATE TABLE campaign_numbers (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    number      TEXT    NOT NULL,
    PRIMARY KEY (campaign_id, number)
);

-- The agents who dial for a campaign.
CREATE TABLE campaign_agents (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, account_id)
);
CREATE INDEX campaign_agents_account ON campaign_agents (account_id);

-- Channel counts per carrier over the last days.
CREATE INDEX call_records_carrier ON call_records (carrier_id, invite_at);
