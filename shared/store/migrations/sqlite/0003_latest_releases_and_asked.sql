-- When a user last asked about a name (the chat records it, also for cached answers): the
-- daily refresh re-ingests names asked about recently. NULL: only ever backfilled.
ALTER TABLE artist_requests ADD COLUMN asked_at TEXT NULL;
CREATE INDEX IF NOT EXISTS artist_requests_asked ON artist_requests (asked_at);

-- The embedded twin of the releases item in the DynamoDB table `top_tracks` (rank 0 of the
-- artist's partition): the artist's latest releases, newest first, as one JSON array, so
-- a refresh replaces the whole list in one write.
CREATE TABLE IF NOT EXISTS latest_releases (
    artist_id  TEXT NOT NULL PRIMARY KEY,
    releases   TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
