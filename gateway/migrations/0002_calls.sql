-- Carrier SIP trunks the gateway sends calls to (and, later, takes calls from).
CREATE TABLE carriers (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    host          TEXT    NOT NULL,
    port          INTEGER NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
    transport     TEXT    NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    -- digest credentials the carrier challenges for; the secret is never
    -- returned by the API
    username      TEXT,
    secret        TEXT,
    -- Asterisk's `fromuser` / `fromdomain`: what goes in From instead of
    -- the caller ID and our address
    from_user     TEXT,
    from_domain   TEXT,
    -- caller ID presented when the agent has none (E.164)
    caller_id     TEXT,
    -- codec names in the carrier's order of preference
    codecs        TEXT    NOT NULL DEFAULT 'PCMU,PCMA',
    priority      INTEGER NOT NULL DEFAULT 10,
    weight        INTEGER NOT NULL DEFAULT 1,
    max_channels  INTEGER,
    -- how the dialled number is written in the Request-URI and To
    number_format TEXT    NOT NULL DEFAULT 'e164'
                  CHECK (number_format IN ('e164', 'e164_without_plus', 'national')),
    tech_prefix   TEXT    NOT NULL DEFAULT '',
    -- the built-in demo carrier: host and port are wherever it listens
    is_demo       INTEGER NOT NULL DEFAULT 0,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

-- Caller IDs an agent may present, and which one is the default.
CREATE TABLE agent_caller_ids (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number     TEXT    NOT NULL,
    label      TEXT    NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, number)
);

-- One row per call attempt, written when the call ends (also for failed
-- attempts and on shutdown).
CREATE TABLE call_records (
    id                   TEXT    PRIMARY KEY,
    direction            TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    account_id           INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    agent                TEXT,
    caller_id            TEXT,
    dialled              TEXT    NOT NULL,
    carrier_id           INTEGER REFERENCES carriers (id) ON DELETE SET NULL,
    carrier              TEXT,
    -- Unix milliseconds
    invite_at            INTEGER NOT NULL,
    ringing_at           INTEGER,
    answered_at          INTEGER,
    ended_at             INTEGER NOT NULL,
    duration_s           INTEGER NOT NULL DEFAULT 0,
    final_code           INTEGER NOT NULL,
    final_reason         TEXT    NOT NULL,
    -- agent, remote, gateway
    hangup_by            TEXT    NOT NULL,
    packets_to_carrier   INTEGER NOT NULL DEFAULT 0,
    bytes_to_carrier     INTEGER NOT NULL DEFAULT 0,
    packets_from_carrier INTEGER NOT NULL DEFAULT 0,
    bytes_from_carrier   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX call_records_invite_at ON call_records (invite_at);
CREATE INDEX call_records_account ON call_records (account_id, invite_at);
