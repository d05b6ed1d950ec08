"""The media package: the doctor (:mod:`tiktok.media.doctor`), the media store (:mod:`tiktok.media.store`) and the
library (:mod:`tiktok.media.library`)."""
