"""The store used from inside Ray tasks, for both backends (S3 over HTTP to the moto server from the workers)."""

import hashlib

import pytest
import ray

pytestmark = pytest.mark.ray


@ray.remote(num_cpus=0.5)
def write_stem(store, index: int):
    data = f"stem {index} ".encode() * 1000
    return store.put_bytes(f"cues/c/stems/{index}.wav", data)


@ray.remote(num_cpus=0.5)
def read_sha(store, key: str) -> str:
    return hashlib.sha256(store.get_bytes(key)).hexdigest()


def test_ray_tasks_write_and_read_the_store(ray_session, store):
    results = ray.get([write_stem.remote(store, i) for i in range(6)])
    assert sorted(store.list("cues/c/stems/")) == [f"cues/c/stems/{i}.wav" for i in range(6)]
    for result in results:
        assert hashlib.sha256(store.get_bytes(result.key)).hexdigest() == result.sha256
    assert ray.get([read_sha.remote(store, r.key) for r in results]) == [r.sha256 for r in results]
