-- What an admin should look at (an agent over the velocity limit, …),
-- newest last; shown on the Security page and sent as `alert.raised`.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    agent TEXT,
    message TEXT NOT NULL
);
