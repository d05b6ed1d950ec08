"""Alerts: the store's events (:mod:`tiktok.store.events`) told to people, through apprise channels (``NOTIFY_URLS``:
email, Slack, Discord, Telegram, ntfy, ...) and signed webhooks (``WEBHOOK_URLS``), exactly once per event and
channel whichever process or machine sends it, retried with back-off when a channel fails, never blocking a post.

The contract the rest of the tool uses (kept small on purpose):

- :class:`tiktok.alerts.deliver.Alerts` ``.from_settings(settings, store, tokens=None, *, clock=None)``: None when
  no channel is set; otherwise it registers its channels with the store (a new channel starts at the newest event).
- ``alerts.tick()``: notice what the store cannot see by itself (an account to relink, a refresh token running out,
  a post stuck in flight, a silent worker, a scheduled post that missed its time, an account near TikTok's daily
  cap, the daily digest: :mod:`tiktok.alerts.notice`), then plan, claim and send what is due.
  Bounded in time, never raises (a failed channel is a logged line and a later retry).
- :func:`tiktok.alerts.messages.describe` ``(event, names=None) -> Message``: an event in plain words (title, body,
  details line, link), for channels and the app's events page alike.
"""
