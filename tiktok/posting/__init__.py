"""Posting: one package for everything between a manifest entry and a published (or inboxed) post.

- ``command``    how upload_to_tiktok.py's run goes once its options are read (tiktok/commands/post.py)
- ``manifest``   videos_to_upload.json: load and validate; ``fields`` holds the per-field rules
- ``media``      local checks against TikTok's media limits before any call
- ``caption``    title/hashtag/mention building within TikTok's length rules
- ``chunks``     pure chunk planning for FILE_UPLOAD
- ``transfer``   streaming the chunks to the upload URL
- ``client``     the Content Posting API calls
- ``policy``     how a posting call is retried and refreshed without ever posting twice
- ``publisher``  one entry, start to finish (init, transfer, status)
- ``results``    the per-entry results file that makes a rerun resume instead of reposting
"""
