-- Sources the guard banned (failed authentications, floods, scanners, an
-- admin); kept across restarts. A row is deleted when its ban ends or is
-- lifted.
CREATE TABLE bans (
    ip TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL,
    times INTEGER NOT NULL
);
