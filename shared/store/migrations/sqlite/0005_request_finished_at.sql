-- When a request's current status was recorded (ingest's not-found, done or failed): a
-- not-found name is not requested again until that result is a day old. NULL: pending,
-- or recorded before this column existed.
ALTER TABLE artist_requests ADD COLUMN finished_at TEXT NULL;
