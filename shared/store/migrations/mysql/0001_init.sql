-- encore's relational store on MySQL / MariaDB. Same meaning as migrations/sqlite.
CREATE TABLE IF NOT EXISTS artists (
    id              CHAR(22)      NOT NULL PRIMARY KEY,
    name            VARCHAR(512)  NOT NULL,
    normalized_name VARCHAR(512)  NOT NULL,
    popularity      INT UNSIGNED  NULL,
    followers       BIGINT UNSIGNED NULL,
    genres          JSON          NOT NULL,
    image_url       VARCHAR(1024) NULL,
    spotify_url     VARCHAR(1024) NULL,
    updated_at      DATETIME(3)   NOT NULL,
    INDEX artists_normalized_name (normalized_name(191))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- What users typed that resolved to an artist ("방탄소년단" -> BTS), normalized.
CREATE TABLE IF NOT EXISTS artist_aliases (
    alias      VARCHAR(191) NOT NULL PRIMARY KEY,
    artist_id  CHAR(22)     NOT NULL,
    created_at DATETIME(3)  NOT NULL,
    INDEX artist_aliases_artist (artist_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The similarity datamart: related_id is the rank-th nearest artist to artist_id.
CREATE TABLE IF NOT EXISTS related_artists (
    artist_id  CHAR(22)    NOT NULL,
    `rank`     SMALLINT UNSIGNED NOT NULL,
    related_id CHAR(22)    NOT NULL,
    distance   DOUBLE      NOT NULL,
    snapshot   DATE        NOT NULL,
    PRIMARY KEY (artist_id, `rank`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Pending requests, so a user repeating a name does not start a second ingest.
CREATE TABLE IF NOT EXISTS artist_requests (
    normalized   VARCHAR(191) NOT NULL PRIMARY KEY,
    status       VARCHAR(16)  NOT NULL,
    requested_at DATETIME(3)  NOT NULL,
    attempts     INT UNSIGNED NOT NULL DEFAULT 0
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
