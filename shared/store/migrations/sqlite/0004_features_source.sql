-- Where each cached track's audio features came from: 'spotify', 'reccobeats' or
-- 'missing' (ingest asks ReccoBeats for what Spotify refuses, e.g. in Development Mode).
-- NULL: cached before provenance was kept.
ALTER TABLE top_tracks ADD COLUMN features_source TEXT NULL;
