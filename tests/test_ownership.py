"""TikTok's URL-property rules as the client applies them (reference 4.3), before a URL is saved."""

from __future__ import annotations

import pytest

from tiktok.media.ownership import UNVERIFIED, covering, ownership_problem, property_problem

PROPS = ["static.example.com", "https://example.com/videos/user/"]


@pytest.mark.parametrize("url, prop", [
    ("https://static.example.com/a.mp4", "static.example.com"),
    ("https://video.static.example.com/a.mp4", "static.example.com"),      # a subdomain: covered
    ("https://example.com/videos/user/123/example.mp4", "https://example.com/videos/user/"),
    ("https://example.com/videos/user/a.jpg?sig=1", "https://example.com/videos/user/"),  # signed URLs are fine
])
def test_covered_urls_name_their_property(url, prop):
    assert covering(url, PROPS) == prop
    assert ownership_problem(url, PROPS) is None


@pytest.mark.parametrize("url", [
    "https://example.com/a.mp4",                                  # the parent of a verified domain
    "https://example.com/videos/2023/user/123/example.mp4",       # not the exact prefix
    "https://notstatic.example.com.evil.net/a.mp4",
    "https://evilstatic.example.com/a.mp4",                       # a suffix that is no subdomain
    "http://static.example.com/a.mp4",                            # not https
    "https://93.184.216.34/a.mp4",                                # an IP host
    "https://user:pw@static.example.com/a.mp4",                   # credentials
    "not a url",
])
def test_uncovered_urls_get_a_reason_with_tiktoks_code(url):
    assert covering(url, PROPS) is None
    problem = ownership_problem(url, PROPS)
    assert problem and problem.endswith(f"({UNVERIFIED})")


def test_no_properties_says_what_to_do():
    problem = ownership_problem("https://static.example.com/a.mp4", [])
    assert "VERIFIED_URL_PREFIXES" in problem and "developer portal" in problem


def test_loopback_http_only_for_the_emulator_and_only_under_a_listed_prefix():
    props = ["http://127.0.0.1:5000/published/"]
    url = "http://127.0.0.1:5000/published/t/a.jpg"
    assert covering(url, props) is None
    assert covering(url, props, allow_loopback=True) == props[0]
    assert covering("http://127.0.0.1:5000/other/a.jpg", props, allow_loopback=True) is None


@pytest.mark.parametrize("prop, ok", [
    ("static.example.com", True),
    ("https://example.com/videos/", True),
    ("http://127.0.0.1:5000/published/", True),
    ("https://example.com/videos", False),        # a prefix ends with '/'
    ("http://example.com/videos/", False),        # https only beyond loopback
    ("ftp://example.com/", False),
    ("example", False),
    ("example.com/videos", False),
    ("10.0.0.1", False),
    (" static.example.com", False),
    ("", False),
])
def test_property_forms(prop, ok):
    assert (property_problem(prop) is None) is ok
