-- When a user last asked about a name (the chat records it, also for cached answers): the
-- daily refresh re-ingests names asked about recently. NULL: only ever backfilled.
ALTER TABLE artist_requests
    ADD COLUMN asked_at DATETIME(3) NULL,
    ADD INDEX artist_requests_asked (asked_at);
