"""The composer's commercial content disclosure says what TikTok's content-sharing guidelines say, character for
character (audit rejections quote these lines; reference 8.4, issue 25).

The strings below are copied by hand from the guidelines, not imported: a change to the app's copy has to change
this file too. The page is fetched over real loopback HTTP from the app served against the emulator, as a browser
gets it, with the shipped defaults.
"""

from __future__ import annotations

import html
import re

import pytest

from tiktok.posting import composition
from tests.test_composer_web import ADA, Page, composer  # noqa: F401  (composer: the fixture)

# TikTok's words (developers.tiktok.com/doc/content-sharing-guidelines), copied literally.
TIKTOK_LABELED_AS = "Your photo/video will be labeled as 'Paid partnership'"
TIKTOK_PROMOTIONAL_LABEL = "Promotional content"
TIKTOK_PAID_LABEL = "Paid partnership"
TIKTOK_HOVER = "You need to indicate if your content promotes yourself, a third party, or both."
TIKTOK_BRANDED_PRIVATE = "Branded content visibility cannot be set to private."
TIKTOK_CONSENT = "By posting, you agree to TikTok's Music Usage Confirmation."
TIKTOK_CONSENT_BRANDED = "By posting, you agree to TikTok's Branded Content Policy and Music Usage Confirmation."


def test_the_constants_are_tiktoks_strings():
    assert composition.labeled_as(composition.PAID_PARTNERSHIP, photo=False) == \
        TIKTOK_LABELED_AS.replace("photo/video", "video")
    assert composition.LABELED_AS.format(label=composition.PAID_PARTNERSHIP) == TIKTOK_LABELED_AS
    assert composition.PROMOTIONAL == TIKTOK_PROMOTIONAL_LABEL and composition.PAID_PARTNERSHIP == TIKTOK_PAID_LABEL
    assert composition.DISCLOSURE_NEEDED == TIKTOK_HOVER
    assert composition.BRANDED_NOT_PRIVATE == TIKTOK_BRANDED_PRIVATE
    assert composition.CONSENT_MUSIC == TIKTOK_CONSENT and composition.CONSENT_BRANDED == TIKTOK_CONSENT_BRANDED


@pytest.mark.parametrize("photo, your_brand, branded, sentence", [
    (False, True, False, "Your video will be labeled as 'Promotional content'"),
    (False, False, True, "Your video will be labeled as 'Paid partnership'"),
    (False, True, True, "Your video will be labeled as 'Paid partnership'"),  # both: branded content wins
    (True, True, False, "Your photo will be labeled as 'Promotional content'"),
    (True, True, True, "Your photo will be labeled as 'Paid partnership'"),
])
def test_the_label_sentence_names_photo_or_video_as_the_post_is(photo, your_brand, branded, sentence):
    assert composition.labeled_as(composition.disclosure_label(your_brand, branded), photo) == sentence


def test_the_page_carries_tiktoks_strings_and_starts_with_nothing_chosen(composer):
    response = composer.page(ADA)
    assert response.status_code == 200
    page = Page(response.text)
    said = page.ids["disclosure"]  # what compose.js reads (HTMLParser unescapes attributes)
    assert said["data-labeled-as"].format(label="Paid partnership") == TIKTOK_LABELED_AS
    assert said["data-needed"] == TIKTOK_HOVER and said["data-branded-not-private"] == TIKTOK_BRANDED_PRIVATE
    assert said["data-promotional"] == TIKTOK_PROMOTIONAL_LABEL and said["data-paid-partnership"] == TIKTOK_PAID_LABEL
    assert html.unescape(page.text("disclosure-needed")) == TIKTOK_HOVER
    assert html.unescape(page.text("branded-privacy-note")) == TIKTOK_BRANDED_PRIVATE
    assert html.unescape(page.text("privacy-branded-note")) == TIKTOK_BRANDED_PRIVATE
    for box in ("disclose", "your-brand", "branded"):  # "Your brand" and "Branded content" start with no value
        assert "checked" not in page.ids[box], box
    assert "hidden" in page.ids["disclosure-needed"] and "hidden" in page.ids["disclosure-label"]
    consent = page.ids["consent-text"]  # the declaration (UX point 4), and the branded one compose.js swaps in
    assert html.unescape(page.text("consent-text")) == TIKTOK_CONSENT
    assert consent["data-music"] == TIKTOK_CONSENT and consent["data-branded"] == TIKTOK_CONSENT_BRANDED


def _refused(composer, **fields: str) -> Page:
    form = {"open_id": ADA, "source": "video_url", "video_url": "https://cdn.example.com/v.mp4", "action": "now",
            "privacy": "PUBLIC_TO_EVERYONE", **fields}
    response = composer.post(**form)
    assert response.status_code == 400, response.status_code
    return Page(response.text)


def _message(page: Page, field: str) -> str:
    found = [html.unescape(m) for m in
             re.findall(rf'<li data-field="{field}"><strong>[^<]*</strong>: ([^<]*)</li>', page.html)]
    assert found, page.errors()
    return found[0]


def test_disclosure_on_with_nothing_chosen_is_refused_in_tiktoks_words(composer):
    composer.page(ADA)
    page = _refused(composer, disclose="on")
    assert _message(page, "disclose").startswith(TIKTOK_HOVER)
    assert "hidden" not in page.ids["disclosure-needed"]  # the visible note, shown again with the form
    assert html.unescape(page.text("disclosure-needed")) == TIKTOK_HOVER


def test_branded_content_only_me_is_refused_in_tiktoks_words(composer):
    composer.page(ADA)
    page = _refused(composer, disclose="on", branded="on", privacy="SELF_ONLY")
    assert _message(page, "branded").startswith(TIKTOK_BRANDED_PRIVATE)


@pytest.mark.parametrize("fields, sentence", [
    ({"disclose": "on", "your_brand": "on"}, "Your video will be labeled as 'Promotional content'"),
    ({"disclose": "on", "your_brand": "on", "branded": "on"}, "Your video will be labeled as 'Paid partnership'"),
    ({"disclose": "on", "branded": "on", "source": "photos", "photo_urls": "https://cdn.example.com/a.jpg"},
     "Your photo will be labeled as 'Paid partnership'"),
])
def test_the_form_shown_again_names_the_label_for_a_photo_or_a_video(composer, fields, sentence):
    composer.page(ADA)
    page = _refused(composer, privacy="", **fields)  # no privacy: refused, so the form comes back
    assert "hidden" not in page.ids["disclosure-label"]
    assert html.unescape(page.text("disclosure-label")) == sentence


def test_branded_content_shown_again_carries_the_branded_declaration(composer):
    composer.page(ADA)
    page = _refused(composer, privacy="", disclose="on", branded="on")
    assert html.unescape(page.text("consent-text")) == TIKTOK_CONSENT_BRANDED
