"""Publishing media for TikTok to pull (tiktok.media.publishing): under MEDIA_PUBLIC_URL, per post, withdrawn after.

Both stores: the folder store (hard links the app serves) and the S3 store on moto's server (server-side copies
under ``<prefix>/published/``, which a custom domain fronts). URLs carry an unguessable token; withdrawing removes
every file of the publication and nothing else; a publication left behind is swept after its time.
"""

from __future__ import annotations

import os
import time
from urllib.parse import unquote

import boto3
import pytest
import requests

from tiktok.config import load_settings
from tiktok.media.publishing import TOKEN, FolderPublisher, published_name, publisher_for
from tiktok.media.store import MediaStoreSettings, open_media_store

BUCKET, PREFIX = "team-media", "tiktok"
PUBLIC = "https://media.example.com/"


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env: dict[str, str] = {}
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        request.getfixturevalue("aws_env")
        requests.post(f"{server}/moto-api/reset", timeout=5).raise_for_status()
        boto3.client("s3", endpoint_url=server).create_bucket(Bucket=BUCKET)
        env = {"MEDIA_STORE": f"s3://{BUCKET}/{PREFIX}", "AWS_ENDPOINT_URL_S3": server}
    return open_media_store(MediaStoreSettings.from_settings(load_settings(env)))


def published_bytes(store, url: str) -> bytes | None:
    """What TikTok would get at ``url``: read where the app (folder) or the custom domain (bucket) serves it."""
    token, name = url[len(PUBLIC):].split("/", 1)
    name = unquote(name)
    publisher = publisher_for(store, PUBLIC)
    if isinstance(publisher, FolderPublisher):
        path = publisher.file(token, name)
        return path.read_bytes() if path else None
    try:
        body = store.client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/published/{token}/{name}")["Body"]
    except store.client.exceptions.NoSuchKey:
        return None
    return body.read()


def test_publish_then_withdraw(store, tmp_path):
    photos = []
    for n, name in enumerate(["IMG 0001.jpg", "IMG 0001.jpg", "été.jpg"]):
        path = tmp_path / f"p{n}.jpg"
        path.write_bytes(os.urandom(1000 + n))
        photos.append((store.put_file(path, name=name), name, path.read_bytes()))
    publisher = publisher_for(store, PUBLIC)
    publication = publisher.publish([(key, name) for key, name, _ in photos])
    assert TOKEN.fullmatch(publication.token)
    assert len(publication.urls) == 3 and len(set(publication.urls)) == 3  # two photos named alike stay apart
    for url, (_, _, data) in zip(publication.urls, photos):
        assert url.startswith(f"{PUBLIC}{publication.token}/")
        assert published_bytes(store, url) == data
    other = publisher.publish([(photos[0][0], "x.jpg")])
    assert publisher.withdraw(publication.token) is True
    assert all(published_bytes(store, url) is None for url in publication.urls)
    assert published_bytes(store, other.urls[0]) == photos[0][2]  # another post's publication is untouched
    assert all(store.exists(key) for key, _, _ in photos)  # the media stay in the store
    assert publisher.withdraw(publication.token) is False  # idempotent
    assert publisher.withdraw("../../etc") is False


def test_folder_publication_is_a_link_not_a_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_media_store(MediaStoreSettings.from_settings(load_settings({})))
    source = tmp_path / "big.jpg"
    source.write_bytes(os.urandom(4096))
    key = store.put_file(source)
    publication = publisher_for(store, PUBLIC).publish([(key, "big.jpg")])
    token, name = publication.urls[0][len(PUBLIC):].split("/", 1)
    published = publisher_for(store, PUBLIC).file(token, name)
    assert published is not None and published.stat().st_ino == store.local_path(key).stat().st_ino


def test_folder_serves_only_published_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_media_store(MediaStoreSettings.from_settings(load_settings({})))
    publisher = publisher_for(store, PUBLIC)
    source = tmp_path / "a.jpg"
    source.write_bytes(b"jpeg")
    publication = publisher.publish([(store.put_file(source), "a.jpg")])
    for token, name in [(publication.token, "../a.jpg"), (publication.token, ".hidden"), ("0" * 32, "1-a.jpg"),
                        ("not-a-token", "1-a.jpg"), (publication.token, "")]:
        assert publisher.file(token, name) is None


def test_sweep_removes_only_old_publications(store, tmp_path):
    source = tmp_path / "a.jpg"
    source.write_bytes(b"jpeg bytes")
    publisher = publisher_for(store, PUBLIC)
    publication = publisher.publish([(store.put_file(source), "a.jpg")])
    assert publisher.sweep(now=time.time()) == 0
    assert published_bytes(store, publication.urls[0]) == b"jpeg bytes"
    assert publisher.sweep(older_than_s=86400, now=time.time() + 86400 + 120) == 1
    assert published_bytes(store, publication.urls[0]) is None


@pytest.mark.parametrize("name, expected", [("IMG 0001.HEIC", "1-IMG-0001.HEIC"), ("../../x.jpg", "1-x.jpg"),
                                            ("été photo.jpg", "1-été-photo.jpg"), ("", "1-media")])
def test_published_names_are_plain(name, expected):
    assert published_name(0, name) == expected


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_sweep_leftovers_removes_day_old_publications_and_local_copies_only(kind, request, tmp_path, monkeypatch):
    """What the workers' periodic task and the app's runner call: after a day, a forgotten publication and the
    store's leftovers (an S3 object's local copy a worker downloaded, a killed put's temp file) go; fresh ones stay,
    and the stored media themselves always stay."""
    from tiktok.media.publishing import sweep_leftovers

    monkeypatch.chdir(tmp_path)
    env: dict[str, str] = {}
    if kind == "s3":
        server = request.getfixturevalue("s3_server")
        request.getfixturevalue("aws_env")
        requests.post(f"{server}/moto-api/reset", timeout=5).raise_for_status()
        boto3.client("s3", endpoint_url=server).create_bucket(Bucket=BUCKET)
        env = {"MEDIA_STORE": f"s3://{BUCKET}/{PREFIX}", "AWS_ENDPOINT_URL_S3": server}
    settings = load_settings({**env, "MEDIA_PUBLIC_URL": PUBLIC})
    store = open_media_store(MediaStoreSettings.from_settings(settings))
    source = tmp_path / "a.jpg"
    source.write_bytes(os.urandom(2048))
    key = store.put_file(source)
    local = store.local_path(key)  # S3: a downloaded copy, as a worker keeps
    publication = publisher_for(store, PUBLIC).publish([(key, "a.jpg")])
    leftover = tmp_path / "media" / ".store" / "tmp" / "put-killed.tmp"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half")
    assert sweep_leftovers(settings, now=time.time()) == 0
    assert sweep_leftovers(settings, now=time.time() + 86400 + 120) >= 2
    assert not leftover.exists() and published_bytes(store, publication.urls[0]) is None
    assert store.exists(key)
    assert local.exists() is (kind == "folder")  # the folder's object is the media itself; S3's copy is a cache
