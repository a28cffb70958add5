-- Accounts: admins, supervisors and agents sign in to the web app.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name    TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    -- argon2id PHC string; never the password itself
    password_hash   TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL
);

-- Web sessions: the cookie holds a random token, the table only its SHA-256.
CREATE TABLE web_sessions (
    token_hash TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_account ON web_sessions (account_id);

-- SIP digest credentials issued at sign-in, one per web session. Only HA1
-- values are kept: they open this realm only, and only until expires_at.
CREATE TABLE sip_credentials (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session     TEXT    NOT NULL REFERENCES web_sessions (token_hash) ON DELETE CASCADE,
    username    TEXT    NOT NULL,
    realm       TEXT    NOT NULL,
    ha1_md5     TEXT    NOT NULL,
    ha1_sha256  TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sip_credentials_username ON sip_credentials (username);
