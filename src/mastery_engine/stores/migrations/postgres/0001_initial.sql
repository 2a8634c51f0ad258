-- Rows mirror the key pattern {tenant}:student:{student_id}:mastery:{date}:{component}.
CREATE TABLE events (
    tenant text NOT NULL,
    id text NOT NULL,
    student_id text NOT NULL,
    type text NOT NULL,
    occurred_at bigint NOT NULL,
    ingested_at bigint NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX events_by_student ON events (tenant, student_id, occurred_at);
CREATE INDEX events_by_ingestion ON events (ingested_at);

CREATE TABLE scores (
    tenant text NOT NULL,
    student_id text NOT NULL,
    date date NOT NULL,
    component text NOT NULL,
    skill_id text NOT NULL,
    n bigint NOT NULL,
    w0 double precision NOT NULL, w1 double precision NOT NULL,
    w2 double precision NOT NULL, w3 double precision NOT NULL,
    w4 double precision NOT NULL, w5 double precision NOT NULL,
    w6 double precision NOT NULL, w7 double precision NOT NULL,
    s0 double precision NOT NULL, s1 double precision NOT NULL,
    s2 double precision NOT NULL, s3 double precision NOT NULL,
    s4 double precision NOT NULL, s5 double precision NOT NULL,
    s6 double precision NOT NULL, s7 double precision NOT NULL,
    PRIMARY KEY (tenant, student_id, date, component, skill_id)
);

CREATE TABLE completions (
    tenant text NOT NULL,
    student_id text NOT NULL,
    skill_id text NOT NULL,
    exercise_id text NOT NULL,
    first_at bigint NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id, exercise_id)
);

CREATE TABLE activity (
    tenant text NOT NULL,
    student_id text NOT NULL,
    date date NOT NULL,
    first_at bigint NOT NULL,
    events bigint NOT NULL,
    PRIMARY KEY (tenant, student_id, date)
);

CREATE TABLE skills (
    tenant text NOT NULL,
    student_id text NOT NULL,
    skill_id text NOT NULL,
    first_at bigint NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id)
);

-- The number of the last batch that touched each student: a cached snapshot is checked
-- with one indexed lookup. Numbers come from a sequence, so they never repeat.
CREATE SEQUENCE batch_numbers;
CREATE TABLE versions (
    tenant text NOT NULL,
    student_id text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (tenant, student_id)
);
