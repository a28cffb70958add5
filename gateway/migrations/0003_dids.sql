-- Inbound calls: who may send them (per carrier), our numbers (DIDs) and
-- where they ring (an agent, a ring group, or a refusal).

-- Comma-separated IPs and CIDR ranges allowed to send us calls for our DIDs;
-- empty: none (the carrier is outbound only).
ALTER TABLE carriers ADD COLUMN inbound_sources TEXT NOT NULL DEFAULT '';
-- Where the carrier puts the dialled number.
ALTER TABLE carriers ADD COLUMN inbound_number_from TEXT NOT NULL DEFAULT 'request_uri'
    CHECK (inbound_number_from IN ('request_uri', 'to', 'diversion'));

CREATE TABLE ring_groups (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    strategy         TEXT    NOT NULL DEFAULT 'all' CHECK (strategy IN ('all', 'in_order')),
    member_timeout_s INTEGER NOT NULL DEFAULT 20 CHECK (member_timeout_s BETWEEN 5 AND 300),
    -- the status when nobody answers; NULL: 480
    fallback_code    INTEGER CHECK (fallback_code BETWEEN 400 AND 699),
    created_at       INTEGER NOT NULL
);

CREATE TABLE ring_group_members (
    group_id   INTEGER NOT NULL REFERENCES ring_groups (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- ringing order, from 0
    position   INTEGER NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX ring_group_members_account ON ring_group_members (account_id);

CREATE TABLE dids (
    id          INTEGER PRIMARY KEY,
    -- E.164 with '+'
    number      TEXT    NOT NULL UNIQUE CHECK (number GLOB '+[1-9]*'),
    label       TEXT    NOT NULL DEFAULT '',
    -- only this carrier may deliver it; NULL: any carrier
    carrier_id  INTEGER REFERENCES carriers (id) ON DELETE SET NULL,
    route       TEXT    NOT NULL CHECK (route IN ('agent', 'group', 'reject')),
    -- route 'agent' / 'group': the target; NULL after it was deleted (the
    -- SIP core then answers 480)
    account_id  INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    group_id    INTEGER REFERENCES ring_groups (id) ON DELETE SET NULL,
    -- route 'reject'
    reject_code INTEGER CHECK (reject_code BETWEEN 400 AND 699),
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);
CREATE INDEX dids_account ON dids (account_id);
CREATE INDEX dids_group ON dids (group_id);
CREATE INDEX dids_carrier ON dids (carrier_id);
