"""PostgreSQL plumbing for the backend chosen by ``DATABASE_URL``: connections (:mod:`.connection`), the schema's
versioned migrations (:mod:`.migrations`) and the request limiter shared by every process (:mod:`.ratelimit`). The
stores themselves live with their flows: accounts in :mod:`tiktok.auth.pg_store`, the post queue in
:mod:`tiktok.posting.pg_queue`. psycopg is imported only here and there, so the JSON-file default never loads it."""
