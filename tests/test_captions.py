"""TikTok's own captions before AssemblyAI: the emulator's share pages list captions in the page JSON yt-dlp's TikTok
extractor reads, ``transcribe.py`` takes them when offered (no AssemblyAI request at all), and transcribes otherwise
or with ``--no-captions``; plus the AssemblyAI options a creator can pick, as the stand-in receives them."""

from __future__ import annotations

import json
import re
from contextlib import ExitStack

import pytest
import requests
from flask import Flask, request

from tests.test_transcribe_cli import (  # noqa: F401  (fixtures shared with the command's own tests)
    _clear_faults, aai, caption_text, captioned, catalogue, downloads, emulator, env, expected_text, line_for,
    linked, media_digest, oauth, run, standin, standin_app, store, transcribe, work_tmp,
)
from tiktok.config import load_settings, read_environment
from tiktok.emulator.catalogue import CatalogueVideo, find_video
from tiktok.emulator.media_server import UNIVERSAL_DATA_ID, universal_data
from tiktok.emulator.serving import serve_in_thread
from tiktok.emulator.config import default_users
from tiktok.transcription.captions import fetch_captions
from tiktok.transcription.jobs import assemblyai_target
from tiktok.transcription.options import HTTP_LIMIT_PER_S, SHORT_CLIP_POLL_S, poll_interval_for
from tiktok.transcription.subtitles import Cue, parse_subtitles, plain_text, render_srt, render_vtt

ADA = default_users()[0].open_id
TIMEOUT_S = 10


def ada_video(emulator, *, with_captions: bool) -> dict:
    return next(v for v in catalogue(emulator.url, ADA) if captioned(emulator, v["id"]) == with_captions)


def host_of(emulator) -> str:
    return emulator.url.split("://", 1)[1]


# the three the issue asks for

def test_a_video_with_captions_is_transcribed_from_them_with_no_assemblyai_request(run, emulator, aai, downloads):
    video = ada_video(emulator, with_captions=True)
    code, out, _ = run(video["share_url"])
    assert code == 0, out
    assert aai.request_count == 0 and downloads == []  # neither AssemblyAI nor a video download
    (record,) = run.transcripts.list_records()
    assert record.ok and record.source == "tiktok-captions" and record.language == "eng-US"
    assert record.transcript_id is None
    text = run.transcripts.read(record.open_id, record.video_id)
    assert text == caption_text(emulator, video["id"], "ada.creates")
    assert run.transcripts.read(record.open_id, record.video_id, "vtt").startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert run.transcripts.read(record.open_id, record.video_id, "srt").startswith("1\n00:00:00,000 --> ")
    assert json.loads(run.transcripts.path(record.open_id, record.video_id, "json").read_text())["source"] == (
        "tiktok-captions")
    assert "from TikTok's captions" in line_for(out, video["id"])


@pytest.mark.slow
def test_no_captions_calls_assemblyai_even_when_captions_exist(run, emulator, aai, downloads):
    video = ada_video(emulator, with_captions=True)
    code, out, _ = run(video["share_url"], "--no-captions")
    assert code == 0, out
    assert aai.upload_count == 1 and aai.transcript_count == 1 and len(downloads) == 1
    (record,) = run.transcripts.list_records()
    assert record.source == "assemblyai" and record.transcript_id in aai.jobs
    assert run.transcripts.read(record.open_id, record.video_id) == expected_text(
        *media_digest(emulator.url, video["id"]))


def test_a_video_without_captions_falls_back_to_assemblyai(run, emulator, aai, downloads):
    video = ada_video(emulator, with_captions=False)
    code, out, _ = run(video["share_url"])
    assert code == 0, out
    assert aai.upload_count == 1 and len(downloads) == 1
    (record,) = run.transcripts.list_records()
    assert record.source == "assemblyai"
    assert run.transcripts.read(record.open_id, record.video_id) == expected_text(
        *media_digest(emulator.url, video["id"]))


# when the captions cannot be had

def test_a_page_that_fails_for_the_captions_falls_back_to_assemblyai(run, emulator, remote, aai):
    video = ada_video(emulator, with_captions=True)
    remote.inject_fault(f"/@ada.creates/video/{video['id']}", status=503, times=1)  # only the captions' page load
    code, out, _ = run(video["share_url"])
    assert code == 0, out
    (record,) = run.transcripts.list_records()
    assert record.source == "assemblyai" and aai.upload_count == 1


@pytest.fixture
def page_host():
    """A loopback host whose video page lists captions (the emulator's page JSON) at a URL that answers 404."""
    app = Flask(__name__)
    video = CatalogueVideo(id="7300000000000000001", open_id="x", create_ms=0, title="T", description="D",
                           duration=2, captions=True)

    @app.get("/@creator/video/<video_id>")
    def page(video_id):
        return f'<html><body><script id="{UNIVERSAL_DATA_ID}" type="application/json">' \
               f'{universal_data(video, "creator", request.host_url.rstrip("/"), 0)}</script></body></html>'

    with serve_in_thread(app) as server:
        yield server


def test_a_listed_caption_file_that_is_missing_means_no_captions(page_host, tmp_path):
    url = f"{page_host.url}/@creator/video/7300000000000000001"
    host = page_host.url.split("://", 1)[1]
    assert fetch_captions(url, tmp_path, timeout_s=TIMEOUT_S, trusted_hosts={host}) is None
    assert fetch_captions(url, tmp_path, timeout_s=TIMEOUT_S) is None  # an untrusted host is not even asked


def test_a_media_url_is_never_looked_up_for_captions(emulator, tmp_path):
    video = ada_video(emulator, with_captions=True)
    media = f"{emulator.url}/_emulator/media/{video['id']}.mp4"
    assert fetch_captions(media, tmp_path, timeout_s=TIMEOUT_S, trusted_hosts={host_of(emulator)}) is None
    assert list(tmp_path.iterdir()) == []


def test_fetch_captions_reads_the_share_page_through_yt_dlps_tiktok_extractor(emulator, tmp_path):
    with_captions, without = (ada_video(emulator, with_captions=flag) for flag in (True, False))
    captions = fetch_captions(with_captions["share_url"], tmp_path / "a", timeout_s=TIMEOUT_S,
                              trusted_hosts={host_of(emulator)})
    assert captions is not None and captions.language == "eng-US"
    assert captions.text == caption_text(emulator, with_captions["id"], "ada.creates")
    assert fetch_captions(without["share_url"], tmp_path / "b", timeout_s=TIMEOUT_S,
                          trusted_hosts={host_of(emulator)}) is None
    assert fetch_captions(with_captions["share_url"], tmp_path / "c", timeout_s=TIMEOUT_S,
                          languages=["spa-ES"], trusted_hosts={host_of(emulator)}) is None  # not offered


# the emulator's pages and caption files

def test_share_pages_carry_subtitle_infos_only_for_captioned_videos(emulator):
    for video in catalogue(emulator.url, ADA)[:6]:
        page = requests.get(video["share_url"], timeout=TIMEOUT_S).text
        raw = re.search(r'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">(.*?)</script>',
                        page).group(1)
        item = json.loads(raw)["__DEFAULT_SCOPE__"]["webapp.video-detail"]["itemInfo"]["itemStruct"]
        assert item["id"] == video["id"] and item["author"]["uniqueId"] == "ada.creates"
        infos = item["video"].get("subtitleInfos")
        if not captioned(emulator, video["id"]):
            assert infos is None
            continue
        (info,) = infos
        assert (info["LanguageCodeName"], info["Format"], info["Source"]) == ("eng-US", "webvtt", "ASR")
        vtt = requests.get(info["Url"], timeout=TIMEOUT_S)
        assert vtt.status_code == 200 and vtt.headers["Content-Type"].startswith("text/vtt")
        assert vtt.text.startswith("WEBVTT\n\n") and int(info["Size"]) == len(vtt.content)


def test_caption_urls_expire_and_uncaptioned_videos_have_none(emulator, remote):
    video = ada_video(emulator, with_captions=True)
    page = requests.get(video["share_url"], timeout=TIMEOUT_S).text
    url = re.search(r'"Url":"([^"]+)"', page).group(1)
    assert requests.get(url, timeout=TIMEOUT_S).status_code == 200
    remote.advance_clock(6 * 3600 + 1)
    assert requests.get(url, timeout=TIMEOUT_S).status_code == 403
    plain = ada_video(emulator, with_captions=False)
    assert requests.get(f"{emulator.url}/_emulator/captions/{plain['id']}.vtt?x-expires=9999999999",
                        timeout=TIMEOUT_S).status_code == 404
    assert find_video(emulator.state, plain["id"]).captions is False


# AssemblyAI options, as the stand-in receives them

def test_assemblyai_options_reach_assemblyai_through_the_sdk(run, emulator, aai, linked):
    linked(ADA)
    video = catalogue(emulator.url, ADA)[0]
    assert not captioned(emulator, video["id"])
    code, out, _ = run("--account", ADA, "--limit", "1", "--detect-language", "--speakers", "2",
                       "--key-term", "Ada Lovelace", "--key-term", "sourdough, levain", "--video-key-terms")
    assert code == 0, out
    (job,) = aai.jobs.values()
    tags = re.findall(r"#(\w+)", video["video_description"])
    assert job.request["language_detection"] is True
    assert (job.request["speaker_labels"], job.request["speakers_expected"]) == (True, 2)
    assert job.request["keyterms_prompt"] == ["Ada Lovelace", "sourdough", "levain", "ada.creates", *tags]
    (record,) = run.transcripts.list_records()
    assert record.language == "en"  # what the stand-in's language detection found
    lines = run.transcripts.read(record.open_id, record.video_id).splitlines()
    assert len(lines) == 2 and lines[0].startswith("Speaker A: ") and lines[1].startswith("Speaker B: ")


def test_without_options_none_are_sent(run, emulator, aai):
    code, _, _ = run(ada_video(emulator, with_captions=False)["share_url"])
    assert code == 0
    (job,) = aai.jobs.values()
    assert not {"language_detection", "speaker_labels", "speakers_expected", "keyterms_prompt",
                "language_code"} & set(job.request)


@pytest.mark.parametrize("argv", [
    ["--speakers", "11"], ["--speakers", "0"], ["--key-term", "one two three four five six seven"],
    ["--key-term", " , "], ["--language", "en", "--detect-language"],
])
def test_bad_assemblyai_options_exit_2_before_anything_runs(env, argv, aai):
    with pytest.raises(SystemExit) as caught:
        transcribe([*argv, "--account", ADA])
    assert caught.value.code == 2 and aai.request_count == 0


def test_too_many_key_terms_exit_2(env, capsys):
    with pytest.raises(SystemExit) as caught:
        transcribe(["--key-term", ",".join(f"term{i}" for i in range(1001)), "--account", ADA])
    assert caught.value.code == 2 and "at most 1000" in capsys.readouterr().err


# polling

@pytest.mark.parametrize("jobs", [1, 2, 4, 8, 16, 64, 256])
def test_the_poll_interval_is_short_and_all_jobs_stay_within_a_third_of_the_http_limit(jobs):
    interval = poll_interval_for(jobs)
    assert interval >= SHORT_CLIP_POLL_S
    assert jobs / interval <= HTTP_LIMIT_PER_S / 3 + 1e-9
    if jobs <= 8:
        assert interval == SHORT_CLIP_POLL_S


def test_the_polling_interval_env_still_wins(env):
    env.delenv("ASSEMBLYAI_POLLING_INTERVAL")
    with ExitStack() as stack:
        settings = load_settings(read_environment())
        assert assemblyai_target(settings, stack, jobs=2).poll_interval_s == SHORT_CLIP_POLL_S
        env.setenv("ASSEMBLYAI_POLLING_INTERVAL", "2.5")
        settings = load_settings(read_environment())
        assert assemblyai_target(settings, stack, jobs=2).poll_interval_s == 2.5


# subtitle files (pure)

def test_webvtt_headers_notes_settings_tags_and_entities_are_handled():
    vtt = ("\ufeffWEBVTT - TikTok\nKind: captions\nLanguage: en\n\nNOTE made by TikTok\n\n"
           "STYLE\n::cue { color: red }\n\n"
           "1\n00:01.000 --> 00:02.500 align:start position:0%\n<v Ada>Hello &amp; <c.big>welcome</c></v>\n"
           "to my <00:00:02.000>kitchen\n\n"
           "01:00:03.000 --> 01:00:04.000\nA &lt;b&gt; tag&nbsp;here\n\n")
    assert parse_subtitles(vtt) == [Cue(1000, 2500, "Hello & welcome\nto my kitchen"),
                                    Cue(3_603_000, 3_604_000, "A <b> tag here")]


def test_srt_is_read_and_rolling_lines_are_kept_once():
    srt = ("1\r\n00:00:00,000 --> 00:00:01,000\r\nfirst line\r\n\r\n"
           "2\r\n00:00:01,000 --> 00:00:02,000\r\nfirst line\r\nsecond line\r\n\r\n"
           "not a cue at all\r\n\r\n3\r\n00:00:02,000 --> 00:00:03,000\r\n\r\n")
    cues = parse_subtitles(srt)
    assert cues == [Cue(0, 1000, "first line"), Cue(1000, 2000, "first line\nsecond line")]
    assert plain_text(cues) == "first line second line"


def test_rendered_subtitles_read_back_the_same():
    cues = [Cue(0, 1234, "one"), Cue(1300, 62_000, "two\nlines"), Cue(3_600_000, 3_601_001, "three")]
    assert parse_subtitles(render_vtt(cues)) == cues and parse_subtitles(render_srt(cues)) == cues
    assert render_srt(cues).startswith("1\n00:00:00,000 --> 00:00:01,234\none\n\n2\n")
