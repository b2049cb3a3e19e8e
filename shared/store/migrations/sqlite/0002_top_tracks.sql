-- The embedded top-tracks cache: the twin of the DynamoDB table `top_tracks` (partition
-- key artist_id, sort key rank), one row per cached track; fetched_at is RFC 3339 UTC.
CREATE TABLE IF NOT EXISTS top_tracks (
    artist_id   TEXT    NOT NULL,
    rank        INTEGER NOT NULL,
    track_id    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    album_name  TEXT    NULL,
    image_url   TEXT    NULL,
    popularity  INTEGER NULL,
    duration_ms INTEGER NULL,
    spotify_url TEXT    NULL,
    fetched_at  TEXT    NOT NULL,
    PRIMARY KEY (artist_id, rank)
);
