-- encore's relational store on SQLite (the embedded default). Same meaning as
-- migrations/mysql; timestamps are RFC 3339 text in UTC, genres a JSON array.
CREATE TABLE IF NOT EXISTS artists (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    normalized_name TEXT    NOT NULL,
    popularity      INTEGER NULL,
    followers       INTEGER NULL,
    genres          TEXT    NOT NULL DEFAULT '[]',
    image_url       TEXT    NULL,
    spotify_url     TEXT    NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS artists_normalized_name ON artists (normalized_name);

CREATE TABLE IF NOT EXISTS artist_aliases (
    alias      TEXT NOT NULL PRIMARY KEY,
    artist_id  TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS artist_aliases_artist ON artist_aliases (artist_id);

CREATE TABLE IF NOT EXISTS related_artists (
    artist_id  TEXT    NOT NULL,
    rank       INTEGER NOT NULL,
    related_id TEXT    NOT NULL,
    distance   REAL    NOT NULL,
    snapshot   TEXT    NOT NULL,
    PRIMARY KEY (artist_id, rank)
);

CREATE TABLE IF NOT EXISTS artist_requests (
    normalized   TEXT    NOT NULL PRIMARY KEY,
    status       TEXT    NOT NULL,
    requested_at TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0
);
