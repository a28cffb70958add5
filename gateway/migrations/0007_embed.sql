-- The phone embedded in other sites (CRMs): which origins may frame it, the
-- key that signs embed tokens, and the webhook for call events. One row.
CREATE TABLE embed_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    webhook_url TEXT,
    webhook_secret TEXT,
    signing_key TEXT NOT NULL
);
