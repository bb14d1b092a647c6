"""The notebook-side record API: value cleaning, table payloads, collection from outputs."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from personalib.errors import PersonalibError
from personalib.reports import keynumbers as rec


def _notebook_with(payloads: list[dict]) -> nbformat.NotebookNode:
    cell = new_code_cell("...")
    cell.outputs = [new_output("display_data", data={rec.MIME_TYPE: p}) for p in payloads]
    cell.outputs.append(new_output("stream", name="stdout", text="unrelated\n"))
    return new_notebook(cells=[cell])


@pytest.mark.parametrize(("value", "expected"), [
    (np.float64(0.5), 0.5), (np.int64(3), 3), (np.bool_(True), True), (7, 7), ("x", "x"),
    (None, None), (math.nan, None), (np.float32("inf"), None), (pd.NA, None),
])
def test_scalars_become_json_values(value, expected):
    out = rec._scalar("k", value)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("value", [[1, 2], {"a": 1}, np.array([1.0, 2.0]), object()])
def test_non_scalars_are_refused_naming_the_key(value):
    with pytest.raises(rec.RecordError, match="record\\('acc'.*record_table"):
        rec._scalar("acc", value)
    assert issubclass(rec.RecordError, PersonalibError)


@pytest.mark.parametrize("name", ["", "a b", "../x", "x/y", 3, "_lead"])
def test_bad_names_are_refused(name):
    with pytest.raises(rec.RecordError, match="not allowed"):
        rec.record(name, 1)


def test_headline_must_be_text():
    with pytest.raises(rec.RecordError, match="headline"):
        rec.headline("   ")


def test_outside_a_kernel_record_checks_but_emits_nothing(capsys):
    rec.record("acc", 0.5)
    rec.record_table("t", pd.DataFrame({"a": [1]}))
    rec.headline("fine")
    assert capsys.readouterr().out == ""


def test_table_payload_keeps_named_index_and_nan_as_null():
    frame = pd.DataFrame({"acc": [0.5, math.nan]},
                         index=pd.Index(["a_doctor", "empty"], name="persona"))
    payload = rec._table_payload("acc_by_persona", frame)
    assert payload["columns"] == ["persona", "acc"]
    assert payload["data"] == [["a_doctor", 0.5], ["empty", None]]


def test_table_payload_flattens_multiindex_columns_and_accepts_series():
    frame = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("acc", "amb"), ("acc", "dis")]))
    assert rec._table_payload("t", frame)["columns"] == ["acc / amb", "acc / dis"]
    series = pd.Series([1.0, 2.0], name="bias")
    assert rec._table_payload("s", series)["columns"] == ["bias"]
    with pytest.raises(rec.RecordError, match="DataFrame"):
        rec._table_payload("t", [1, 2])


def test_collect_reads_values_tables_and_headline_last_value_wins():
    nb = _notebook_with([
        {"kind": "value", "key": "acc", "value": 0.1},
        {"kind": "value", "key": "headline", "value": "Accuracy varies"},
        rec._table_payload("ranks", pd.DataFrame({"persona": ["a"], "rank": [1]})),
        {"kind": "value", "key": "acc", "value": 0.2},
    ])
    got = rec.collect(nb)
    assert got.headline == "Accuracy varies"
    assert got.values == {"acc": 0.2}
    assert list(got.tables) == ["ranks"]
    assert got.tables["ranks"].to_dict("records") == [{"persona": "a", "rank": 1}]


def test_collect_of_a_notebook_without_records_is_empty():
    got = rec.collect(_notebook_with([]))
    assert got.headline is None and got.values == {} and got.tables == {}


@pytest.mark.parametrize(("parts", "expected"), [
    (("gpt-3.5", "TruthfulQA", "best"), "gpt-3.5.TruthfulQA.best"),       # ordinary: unchanged
    (("gemma3-270m-demo", "cosine_attitudes"), "gemma3-270m-demo.cosine_attitudes"),
    (("random baseline", "cosine_attitudes"), "random_baseline.cosine_attitudes"),
    (("zephyr", "friedman_significant_farm and care"), "zephyr.friedman_significant_farm_and_care"),
    (("zephyr", "<img src=x onerror='a()'>"), "zephyr._img_src_x_onerror_a_"),
    (("<b>", "x"), "k_b_.x"),                                               # must start alnum
    (("", "x"), "k_.x"),
    ((".hidden", 3), "k.hidden.3"),
])
def test_key_name_is_a_valid_deterministic_key(parts, expected):
    assert rec.key_name(*parts) == expected
    rec.record(rec.key_name(*parts), 1)  # accepted by the record API


def test_key_name_needs_a_part():
    with pytest.raises(rec.RecordError):
        rec.key_name()
