-- Per-tenant configuration (formula and curriculum) and the audit log of privacy actions.
CREATE TABLE tenant_config (
    tenant text PRIMARY KEY,
    body jsonb NOT NULL
);

CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    tenant text NOT NULL,
    body jsonb NOT NULL
);
CREATE INDEX audit_by_tenant ON audit (tenant, seq);
