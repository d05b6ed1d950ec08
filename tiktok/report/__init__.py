"""Daily stats report: snapshots with day-over-day change, CSV files, S3 upload, and history for the Stats page.

- ``snapshot``: value types and the pure row builders (today vs the previous snapshot).
- ``csvfiles``: ``reports/YYYY-MM-DD/<account>.csv`` and ``summary.csv``, atomic writes, reading earlier days.
- ``s3``: ``s3://bucket/prefix`` parsing and per-file uploads with boto3 (imported only when uploading).
- ``history``: one account's saved days as chart series and top videos.
"""
