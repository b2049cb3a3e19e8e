-- When the datamart in place was computed: the time its run began reading the lake (one
-- row, id 1), RFC 3339 text in UTC like every timestamp here. Same meaning as the MySQL
-- migration of the same number.
CREATE TABLE IF NOT EXISTS datamart_watermark (
    id      INTEGER NOT NULL PRIMARY KEY,
    read_at TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS artists_updated_at ON artists (updated_at);
