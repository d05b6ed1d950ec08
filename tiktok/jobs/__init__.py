"""Workers for the PostgreSQL backend (Procrastinate): ``python -m tiktok worker`` and ``python -m tiktok queue``.

Any number of workers, on any machines, share the database named by ``DATABASE_URL``: the post queue and its
claims, the accounts, the request limiter and Procrastinate's job tables. Posting an entry is a job (:mod:`.tasks`);
a dispatcher that runs every few seconds turns the queue's state into jobs (:mod:`.dispatch`, pure); token refresh
and the daily report are periodic jobs, so no cron line is needed in this mode.
"""
