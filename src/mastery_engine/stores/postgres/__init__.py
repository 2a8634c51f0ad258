"""The PostgreSQL store: a connection pool, additive upserts, SQL migrations."""
