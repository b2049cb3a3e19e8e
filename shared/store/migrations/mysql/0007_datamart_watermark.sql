-- When the datamart in place was computed: the time its run began reading the lake (one
-- row, id 1). The catch-up schedule runs the similarity job only when an artist was
-- written after it; the index keeps that comparison a lookup, not a scan.
CREATE TABLE IF NOT EXISTS datamart_watermark (
    id      TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    read_at DATETIME(3)      NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
ALTER TABLE artists ADD INDEX artists_updated_at (updated_at);
