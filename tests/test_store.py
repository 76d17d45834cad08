"""One storage suite, run against both backends: a local folder and S3 over HTTP (moto server)."""

import hashlib
import os
import pickle
import re
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from cues.pipelines.store import LocalStore, ObjectInfo, S3Store, open_store, parse_store_uri
from cues.schemas.errors import StoreConflict, StoreError, StoreNotFound, StoreUnreachable, StoreURIError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_bytes_round_trip_with_sha256(store):
    result = store.put_bytes("cues/a/manifest.json", b'{"ok": true}', content_type="application/json")
    assert (result.key, result.size, result.sha256) == ("cues/a/manifest.json", 12, sha(b'{"ok": true}'))
    assert store.get_bytes("cues/a/manifest.json") == b'{"ok": true}'
    info = store.stat("cues/a/manifest.json")
    assert (info.size, info.sha256) == (12, sha(b'{"ok": true}'))
    store.put_bytes("cues/a/manifest.json", b"new")  # overwrite is allowed without if_absent
    assert store.get_bytes("cues/a/manifest.json") == b"new"
    assert store.stat("cues/a/manifest.json") == ObjectInfo("cues/a/manifest.json", 3, sha(b"new"))
    store.put_bytes("api/callers/x/b-1", b"", durable=False)  # an index: kept by the process, maybe not a power cut
    assert store.exists("api/callers/x/b-1") and store.get_bytes("api/callers/x/b-1") == b""


def test_file_round_trip(store, tmp_path):
    source = tmp_path / "mix.wav"
    source.write_bytes(os.urandom(300_000))
    result = store.put_file("cues/a/mix.wav", source, content_type="audio/wav")
    assert result.sha256 == sha(source.read_bytes()) and result.size == 300_000
    dest = store.get_file("cues/a/mix.wav", tmp_path / "down" / "mix.wav")
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["mix.wav"]  # no temp file left beside it


def test_exists_list_delete(store):
    for key in ["b/2.txt", "a/1.txt", "a/sub/3.txt", "ab.txt"]:
        store.put_bytes(key, key.encode())
    assert store.exists("a/1.txt") and not store.exists("a/9.txt")
    assert list(store.list()) == ["a/1.txt", "a/sub/3.txt", "ab.txt", "b/2.txt"]
    assert list(store.list("a/")) == ["a/1.txt", "a/sub/3.txt"]
    assert list(store.list("a")) == ["a/1.txt", "a/sub/3.txt", "ab.txt"]
    assert list(store.list("zzz/")) == []
    store.delete("a/1.txt")
    store.delete("a/1.txt")  # deleting a missing key is not an error
    assert list(store.list("a/")) == ["a/sub/3.txt"]


def test_missing_keys_raise_store_not_found_naming_the_object(store, tmp_path):
    message = f"^{re.escape(store.uri)}/nothing/here does not exist$"
    with pytest.raises(StoreNotFound, match=message):
        store.get_bytes("nothing/here")
    with pytest.raises(StoreNotFound, match=message):
        store.stat("nothing/here")
    with pytest.raises(StoreNotFound, match=message):
        store.get_file("nothing/here", tmp_path / "down" / "here")
    assert not (tmp_path / "down" / "here").exists()
    assert not store.exists("nothing/here")


def test_if_absent_writes_once(store, tmp_path):
    store.put_bytes("schedules/x/2026-11-30T03:00", b"first", if_absent=True)
    with pytest.raises(StoreConflict, match=r"schedules/x/2026-11-30T03:00 already exists$"):
        store.put_bytes("schedules/x/2026-11-30T03:00", b"second", if_absent=True)
    source = tmp_path / "f"
    source.write_bytes(b"file")
    with pytest.raises(StoreConflict):
        store.put_file("schedules/x/2026-11-30T03:00", source, if_absent=True)
    assert store.get_bytes("schedules/x/2026-11-30T03:00") == b"first"


def test_if_absent_lets_exactly_one_concurrent_writer_win(store):
    def claim(writer: int) -> int | None:
        try:
            store.put_bytes("schedules/x/slot", f"writer {writer}".encode(), if_absent=True)
        except StoreConflict:
            return None
        return writer

    with ThreadPoolExecutor(8) as pool:
        winners = [w for w in pool.map(claim, range(8)) if w is not None]
    assert len(winners) == 1, winners
    assert store.get_bytes("schedules/x/slot") == f"writer {winners[0]}".encode()
    assert list(store.list()) == ["schedules/x/slot"]


def test_put_file_of_a_missing_source_names_the_source(store, tmp_path):
    with pytest.raises(StoreError, match=f"^cannot upload {tmp_path}/nope.wav to .*/cues/a/mix.wav: no such file$"):
        store.put_file("cues/a/mix.wav", tmp_path / "nope.wav")
    assert list(store.list()) == []


def test_presigned_url_reads_without_credentials(store):
    store.put_bytes("cues/a/preview.mp3", b"ID3 audio")
    url = store.presigned_url("cues/a/preview.mp3", expires_in=600)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"ID3 audio"
        assert response.headers.get("Content-Disposition") is None
    named = store.presigned_url("cues/a/preview.mp3", expires_in=600, filename="a_preview.mp3")
    with urllib.request.urlopen(named, timeout=10) as response:
        assert response.read() == b"ID3 audio"  # S3 names the download; a local path keeps the file's own name
        disposition = response.headers.get("Content-Disposition")
        assert disposition == ('attachment; filename="a_preview.mp3"' if named.startswith("http") else None)
    for bad in (0, 7 * 24 * 3600 + 1, True, 1.5):
        with pytest.raises(StoreURIError, match="expires_in must be 1 to 604800 seconds"):
            store.presigned_url("cues/a/preview.mp3", expires_in=bad)


RULE = (
    "allowed: relative '/'-separated names, without empty, '.' or '..' parts, backslashes, control characters "
    "or temporary-file names ('.name.tmp-…')"
)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("../x", "bad key '../x': has a '.' or '..' part"),
        ("a/../../b", "bad key 'a/../../b': has a '.' or '..' part"),
        ("a/./b", "bad key 'a/./b': has a '.' or '..' part"),
        ("/abs", "bad key '/abs': absolute"),
        ("a//b", "bad key 'a//b': has an empty part"),
        ("a/", "bad key 'a/': has an empty part"),
        ("a\\b", "bad key 'a\\\\b': has a backslash"),
        ("a\nb", "bad key 'a\\nb': has a control character"),
        ("a\x00b", "bad key 'a\\x00b': has a control character"),
        ("cues/.mix.wav.tmp-1a2b", "bad key 'cues/.mix.wav.tmp-1a2b': has a temporary-file name"),
        ("", "empty key"),
        (None, "a key must be a string, got NoneType None"),
        ("x" * 1025, f"bad key '{'x' * 1025}': longer than 1024 characters"),
    ],
)
def test_bad_keys_are_refused_before_any_io(store, key, message):
    for call in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.uri_for(key),
    ):
        with pytest.raises(StoreURIError) as info:
            call()
        assert str(info.value) == f"{message}; {RULE}"
    assert list(store.list()) == []


def test_bad_list_prefix(store):
    with pytest.raises(StoreURIError, match=re.escape("bad prefix '../': has a '.' or '..' part")):
        list(store.list("../"))


def test_store_pickles_for_ray_workers(store):
    store.put_bytes("k", b"v")  # the S3 client exists now, and must not travel with the store
    clone = pickle.loads(pickle.dumps(store))
    assert clone.get_bytes("k") == b"v" and clone.uri == store.uri
    assert repr(clone) == f"{type(store).__name__}({store.uri!r})"


def test_uri_for_names_the_object_and_opens_again(store):
    assert store.uri_for("cues/a/mix.wav") == store.uri + "/cues/a/mix.wav"
    assert open_store(store.uri).uri == store.uri


# --- backend specifics ----------------------------------------------------------------------------------------


@pytest.mark.s3
def test_s3_prefix_hides_the_rest_of_the_bucket(s3_bucket, s3_server):
    raw = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    raw.put_object(Bucket=s3_bucket, Key="outside.txt", Body=b"x")
    raw.put_object(Bucket=s3_bucket, Key="team/prefix-sibling/x", Body=b"x")
    raw.put_object(Bucket=s3_bucket, Key="team/prefix/folder/", Body=b"")  # what the AWS console makes for a folder
    store = open_store(f"s3://{s3_bucket}/team/prefix")
    store.put_bytes("inside.txt", b"y")
    assert list(store.list()) == ["inside.txt"]
    assert raw.get_object(Bucket=s3_bucket, Key="team/prefix/inside.txt")["Body"].read() == b"y"
    assert store.uri_for("inside.txt") == f"s3://{s3_bucket}/team/prefix/inside.txt"
    # Written by something else, without our sha256 metadata: stat says so rather than guessing.
    assert open_store(f"s3://{s3_bucket}").stat("outside.txt") == ObjectInfo("outside.txt", 1, None)


@pytest.mark.s3
def test_s3_multipart_upload_keeps_the_sha256(s3_bucket, tmp_path):
    store = S3Store(parse_store_uri(f"s3://{s3_bucket}/big"), multipart_threshold=5 * 1024**2)
    source = tmp_path / "stem.wav"
    source.write_bytes(os.urandom(11 * 1024**2))
    result = store.put_file("stems/strings.wav", source)
    raw = store.client.head_object(Bucket=s3_bucket, Key="big/stems/strings.wav")
    assert raw["ETag"].strip('"').endswith("-3")  # three parts: a multipart upload
    assert store.stat("stems/strings.wav").sha256 == result.sha256 == sha(source.read_bytes())
    assert store.get_file("stems/strings.wav", tmp_path / "back.wav").read_bytes() == source.read_bytes()


@pytest.mark.s3
def test_s3_missing_bucket(s3_server):
    store = open_store("s3://no-such-bucket-here/x")
    with pytest.raises(StoreError, match="bucket 'no-such-bucket-here' does not exist"):
        store.put_bytes("k", b"v")


def test_unreachable_s3_endpoint_fails_fast_with_the_endpoint(monkeypatch):
    from tests.conftest import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = S3Store(parse_store_uri("s3://bucket/x"), max_attempts=1, connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(StoreUnreachable, match=f"cannot reach S3 endpoint {endpoint} for s3://bucket/x/k"):
        store.get_bytes("k")
    assert time.monotonic() - started < 10


@pytest.mark.s3
def test_s3_without_credentials_says_where_to_look(s3_bucket, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no minute-long wait for an instance role
    store = open_store(f"s3://{s3_bucket}/p")
    with pytest.raises(StoreUnreachable, match=f"^no AWS credentials found for s3://{s3_bucket}/p/k; check the AWS"):
        store.get_bytes("k")


def test_s3_multipart_threshold_below_the_s3_part_minimum_is_refused():
    with pytest.raises(StoreError, match="multipart_threshold must be at least 5242880 bytes"):
        S3Store(parse_store_uri("s3://bucket/x"), multipart_threshold=1024)


def test_local_writes_are_atomic(tmp_path):
    store = LocalStore(parse_store_uri(str(tmp_path / "store")))
    store.put_bytes("cues/a/mix.wav", b"complete")
    assert sorted(p.name for p in (tmp_path / "store" / "cues" / "a").iterdir()) == ["mix.wav"]

    # A crash after writing part of the temp file, before the rename: nothing appears under the key.
    def crash(handle):
        handle.write(b"half of a manifest")
        raise KeyboardInterrupt("power cut")

    with pytest.raises(KeyboardInterrupt):
        store._write("cues/a/manifest.json", crash, if_absent=False)
    assert not store.exists("cues/a/manifest.json")
    # A temp file a killed process left behind is never listed or read.
    (tmp_path / "store" / "cues" / "a" / ".manifest.json.tmp-deadbeef").write_bytes(b"half")
    assert list(store.list()) == ["cues/a/mix.wav"]
    assert not store.exists("cues/a/manifest.json")

    # A write that fails at the rename (the key is a folder) reports it and leaves nothing behind.
    with pytest.raises(StoreError, match=r"^cannot write file://.*/store/cues/a: Is a directory$"):
        store.put_bytes("cues/a", b"partial")
    assert sorted(p.name for p in (tmp_path / "store" / "cues").iterdir()) == ["a"]
    assert store.get_bytes("cues/a/mix.wav") == b"complete"


def test_local_symlinks_cannot_escape(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "link").symlink_to(outside)
    store = open_store(str(tmp_path / "store"))
    with pytest.raises(StoreURIError, match="^'link/x' resolves outside the store file://"):
        store.put_bytes("link/x", b"escape")
    (outside / "secret").write_bytes(b"s")
    with pytest.raises(StoreURIError, match="resolves outside the store"):
        store.get_bytes("link/secret")
    with pytest.raises(StoreURIError, match="resolves outside the store"):
        list(store.list("link/"))
    assert list(store.list()) == []  # the walk does not follow the link either
    assert list(outside.iterdir()) == [outside / "secret"]
    (tmp_path / "store" / "a" / "b").mkdir(parents=True)  # a link deeper down is found too
    (tmp_path / "store" / "a" / "b" / "deep").symlink_to(outside)
    with pytest.raises(StoreURIError, match="^'a/b/deep/x' resolves outside the store"):
        store.put_bytes("a/b/deep/x", b"escape", durable=False)
    (tmp_path / "store" / "a" / "inner").symlink_to(tmp_path / "store" / "a" / "b")  # a link inside is fine
    store.put_bytes("a/inner/x", b"in")
    assert store.get_bytes("a/b/x") == b"in"
    (tmp_path / "linked").symlink_to(tmp_path / "store")  # and so is a root that is a link
    assert open_store(str(tmp_path / "linked")).get_bytes("a/inner/x") == b"in"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme-music/library", ("s3", "acme-music", "library")),
        ("s3://acme-music/", ("s3", "acme-music", "")),
        ("s3://acme-music/a/b/", ("s3", "acme-music", "a/b")),
    ],
)
def test_s3_uris(uri, expected):
    location = parse_store_uri(uri)
    assert (location.scheme, location.bucket, location.prefix) == expected


def test_file_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_store_uri("./cue-store").root == str(tmp_path / "cue-store")
    assert parse_store_uri(f"file://{tmp_path}/s").uri == f"file://{tmp_path}/s"
    assert open_store(None).uri == f"file://{tmp_path}/cue-store"
    monkeypatch.setenv("CUES_STORE", "s3://from-env/p")
    assert open_store(None).uri == "s3://from-env/p"
    spaced = parse_store_uri(str(tmp_path / "my cues"))
    assert spaced.uri == f"file://{tmp_path}/my%20cues"  # a real URI, percent-encoded …
    assert parse_store_uri(spaced.uri) == spaced  # … that reads back to the same folder


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gs://bucket/x", "unsupported store scheme 'gs://' in 'gs://bucket/x'; supported: file://, s3://"),
        ("http://host/x", "unsupported store scheme 'http://'"),
        ("s3://Bad_Bucket/x", "bad bucket name 'Bad_Bucket'"),
        ("s3://192.168.1.1/x", "not shaped like an IP address"),
        ("s3://ab/x", "bad bucket name 'ab' in 's3://ab/x': 3–63 lowercase letters"),
        ("s3://bkt/../x", "bad prefix '../x': has a '.' or '..' part"),
        ("file://relative/path", "a file:// store URI needs an absolute path"),
        ("", "empty store URI"),
    ],
)
def test_bad_store_uris(uri, message):
    with pytest.raises(StoreURIError, match=re.escape(message)):
        parse_store_uri(uri)


@pytest.mark.s3
def test_s3_single_puts_carry_the_sha256_for_s3_to_check(s3_bucket, tmp_path):
    """A file under the multipart threshold, and bytes, go up with ``ChecksumSHA256``: S3 checks the body against the
    digest the manifest records and keeps it with the object; a multipart upload keeps it in the metadata only."""
    import base64

    store = S3Store(parse_store_uri(f"s3://{s3_bucket}/sum"), multipart_threshold=5 * 1024**2)
    small, big = tmp_path / "preview.mp3", tmp_path / "stem.wav"
    small.write_bytes(os.urandom(300_000))
    big.write_bytes(os.urandom(6 * 1024**2))
    puts = {
        "preview.mp3": store.put_file("preview.mp3", small),
        "manifest.json": store.put_bytes("manifest.json", b"{}", if_absent=True),
        "stem.wav": store.put_file("stem.wav", big),
    }

    def s3_checksum(name: str) -> str | None:
        raw = store.client.head_object(Bucket=s3_bucket, Key=f"sum/{name}", ChecksumMode="ENABLED")
        value = raw.get("ChecksumSHA256")
        return base64.b64decode(value).hex() if value else None

    assert s3_checksum("preview.mp3") == puts["preview.mp3"].sha256 == sha(small.read_bytes())
    assert s3_checksum("manifest.json") == puts["manifest.json"].sha256 == sha(b"{}")
    assert s3_checksum("stem.wav") != puts["stem.wav"].sha256  # parts: no whole-object SHA-256 in S3
    assert store.stat("stem.wav").sha256 == puts["stem.wav"].sha256


def test_replace_if_unchanged_is_a_compare_and_swap(store):
    store.put_bytes("cues/a/review.json", b"[1]")
    data, version = store.get_versioned("cues/a/review.json")
    assert data == b"[1]"
    store.replace_if_unchanged("cues/a/review.json", b"[1, 2]", version, content_type="application/json")
    with pytest.raises(StoreConflict, match=r"review.json changed since it was read$"):
        store.replace_if_unchanged("cues/a/review.json", b"[1, 3]", version)  # the version read is stale now
    assert store.get_bytes("cues/a/review.json") == b"[1, 2]"
    data, version = store.get_versioned("cues/a/review.json")
    assert store.replace_if_unchanged("cues/a/review.json", b"[1, 2, 3]", version).sha256 == sha(b"[1, 2, 3]")
    assert store.stat("cues/a/review.json").sha256 == sha(b"[1, 2, 3]")
    store.delete("cues/a/review.json")
    with pytest.raises(StoreConflict, match=r"review.json no longer exists$"):
        store.replace_if_unchanged("cues/a/review.json", b"[]", version)
    with pytest.raises(StoreNotFound):
        store.get_versioned("cues/a/review.json")
