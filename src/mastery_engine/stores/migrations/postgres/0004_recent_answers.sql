-- Each skill's window of latest quiz answers (core/recent.py). Event ids sort by code point,
-- as in Python, whatever the database's collation.
CREATE TABLE recent_answers (
    tenant text NOT NULL,
    student_id text NOT NULL,
    skill_id text NOT NULL,
    occurred_at bigint NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    score double precision NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id, occurred_at, event_id)
);

-- The windows filled from the quiz answers still among the raw events (purged ones are gone;
-- the windows feed sums with half-lives of minutes to hours). 5 is RECENT_ANSWERS.
INSERT INTO recent_answers
SELECT tenant, student_id, skill_id, occurred_at, id, score FROM (
    SELECT tenant, student_id, body::jsonb ->> 'skill_id' AS skill_id, occurred_at, id,
        (body::jsonb -> 'data' ->> 'score')::float8 AS score,
        row_number() OVER (PARTITION BY tenant, student_id, body::jsonb ->> 'skill_id'
            ORDER BY occurred_at DESC, id COLLATE "C" DESC) AS rank
    FROM events WHERE type = 'quiz.graded'
) AS answers
WHERE skill_id IS NOT NULL AND rank <= 5;
