"""Store keys, shards and the compact key index."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from personalib.backends.base import Decoding
from personalib.errors import PersonalibError
from personalib.store import KeyIndex, canonical_json, parse_shard, request_key, shard_of


def test_key_is_sha256_of_canonical_json() -> None:
    payload = {"messages": [{"role": "user", "content": "Question: é?"}]}
    expected_doc = {
        "decoding": {"max_new_tokens": 100, "seed": 42, "temperature": 0.0, "top_p": 1.0},
        "model_id": "gpt-4",
        "payload": payload,
        "revision": None,
    }
    text = json.dumps(expected_doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert request_key("gpt-4", None, payload, Decoding()) == hashlib.sha256(text.encode()).hexdigest()
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_key_depends_on_every_part_and_not_on_number_spelling() -> None:
    base = request_key("m", "r1", {"prompt": "p"}, {"max_new_tokens": 8, "temperature": 0})
    assert base == request_key("m", "r1", {"prompt": "p"}, {"temperature": 0.0, "max_new_tokens": 8.0})
    as_dataclass = request_key("m", "r1", {"prompt": "p"}, Decoding(max_new_tokens=8, temperature=0, top_p=1, seed=42))
    as_mapping = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "seed": 42}
    assert as_dataclass == request_key("m", "r1", {"prompt": "p"}, as_mapping)
    others = {
        request_key("m2", "r1", {"prompt": "p"}, {"max_new_tokens": 8, "temperature": 0}),
        request_key("m", "r2", {"prompt": "p"}, {"max_new_tokens": 8, "temperature": 0}),
        request_key("m", "r1", {"prompt": "p "}, {"max_new_tokens": 8, "temperature": 0}),
        request_key("m", "r1", {"prompt": "p"}, {"max_new_tokens": 9, "temperature": 0}),
    }
    assert base not in others and len(others) == 4
    with pytest.raises(PersonalibError, match="max_new_tokens"):
        request_key("m", None, {"prompt": "p"}, {"max_new_tokens": "lots"})


def test_shards_partition_keys_evenly_and_deterministically() -> None:
    keys = [request_key("m", None, {"prompt": str(i)}, {}) for i in range(4000)]
    shards = [shard_of(k, 4) for k in keys]
    counts = np.bincount(shards, minlength=4)
    assert counts.sum() == 4000 and counts.min() > 850
    assert shard_of(keys[0], 4) == int(keys[0][:15], 16) % 4  # the documented, machine-independent rule
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/4", "1/0", "a/b", "1"):
        with pytest.raises(PersonalibError, match="--shard"):
            parse_shard(bad)


def test_key_index_membership() -> None:
    stored = [request_key("m", None, {"prompt": str(i)}, {}) for i in range(0, 100, 2)]
    index = KeyIndex(stored)
    query = [request_key("m", None, {"prompt": str(i)}, {}) for i in range(100)]
    assert index.contains(query).tolist() == [i % 2 == 0 for i in range(100)]
    assert len(index) == 50 and stored[0] in index and query[1] not in index
    assert KeyIndex().contains(query[:3]).tolist() == [False] * 3
