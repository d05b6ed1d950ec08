"""The media package: the doctor (:mod:`tiktok.media.doctor`), the media store (:mod:`tiktok.media.store`) and,
later, the library."""
