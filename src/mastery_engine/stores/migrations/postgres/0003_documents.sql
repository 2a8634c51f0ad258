-- A tenant's named JSON documents: class rosters ("classes"), analytics summaries.
CREATE TABLE documents (
    tenant text NOT NULL,
    name text NOT NULL,
    body jsonb NOT NULL,
    PRIMARY KEY (tenant, name)
);
