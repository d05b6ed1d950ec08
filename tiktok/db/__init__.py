"""PostgreSQL plumbing for the backend chosen by ``DATABASE_URL``: connections (:mod:`.connection`), the schema's
versioned migrations (:mod:`.migrations`) and the request limiter shared by every process (:mod:`.ratelimit`). The
accounts live in :mod:`tiktok.auth.pg_store`, the posts in :mod:`tiktok.store.postgres`. psycopg is imported only
here and there, so the embedded default never loads it."""
