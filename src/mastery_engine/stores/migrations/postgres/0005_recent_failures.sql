-- Each skill's window of latest failed attempts that name an error type (core/recent.py).
-- Event ids sort by code point, as in Python, whatever the database's collation.
CREATE TABLE recent_failures (
    tenant text NOT NULL,
    student_id text NOT NULL,
    skill_id text NOT NULL,
    occurred_at bigint NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    error_type text NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id, occurred_at, event_id)
);

-- The windows filled from the failed attempts still among the raw events (purged ones are
-- gone; the struggle rules read only the latest few). 10 is RECENT_FAILURES.
INSERT INTO recent_failures
SELECT tenant, student_id, skill_id, occurred_at, id, error_type FROM (
    SELECT tenant, student_id, body::jsonb ->> 'skill_id' AS skill_id, occurred_at, id,
        body::jsonb -> 'data' ->> 'error_type' AS error_type,
        row_number() OVER (PARTITION BY tenant, student_id, body::jsonb ->> 'skill_id'
            ORDER BY occurred_at DESC, id COLLATE "C" DESC) AS rank
    FROM events
    WHERE type = 'exercise.attempted' AND body::jsonb -> 'data' -> 'passed' = 'false'::jsonb
        AND jsonb_typeof(body::jsonb -> 'data' -> 'error_type') = 'string'
) AS failures
WHERE skill_id IS NOT NULL AND rank <= 10;
