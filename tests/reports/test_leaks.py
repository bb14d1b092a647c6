"""Secret check: values of *_KEY/*_TOKEN/*_SECRET variables never stay in a written report."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from personalib.errors import PersonalibError
from personalib.reports.leaks import SecretLeakError, check_no_secrets, find_secrets, secret_values

ENV = {"OPENAI_API_KEY": "sk-test-0123456789abcdef", "HF_TOKEN": "hf_abcdefghijkl",
       "MY_SECRET": "p<a>ss&word\"1", "SHORT_KEY": "abc", "HOME": "/root/not-a-secret"}


def test_only_long_values_of_secret_named_variables_count():
    assert set(secret_values(ENV)) == {"OPENAI_API_KEY", "HF_TOKEN", "MY_SECRET"}
    assert set(secret_values({"openai_api_key": "sk-lowercase-name"})) == {"openai_api_key"}


@pytest.mark.parametrize(("text", "names"), [
    ("<pre>sk-test-0123456789abcdef</pre>", ["OPENAI_API_KEY"]),
    (f"<td>{html.escape(ENV['MY_SECRET'])}</td>", ["MY_SECRET"]),
    ('{"text": "p<a>ss&word\\"1"}', ["MY_SECRET"]),
    ("token hf_abcdefghijkl and sk-test-0123456789abcdef", ["HF_TOKEN", "OPENAI_API_KEY"]),
    ("/root/not-a-secret abc", []),
])
def test_raw_html_and_json_escaped_values_are_found(tmp_path: Path, text, names):
    path = tmp_path / "report.html"
    path.write_text(text)
    assert [n for _, n in find_secrets([path], ENV)] == names


def test_check_deletes_offending_files_and_never_prints_the_value(tmp_path: Path):
    bad = tmp_path / "rq1__all.html"
    bad.write_text("key: sk-test-0123456789abcdef")
    good = tmp_path / "rq1__all.csv"
    good.write_text("key,value\nacc,0.5\n")
    with pytest.raises(SecretLeakError) as err:
        check_no_secrets([bad, good], ENV)
    message = str(err.value)
    assert "OPENAI_API_KEY" in message and str(bad) in message
    assert "sk-test" not in message
    assert not bad.exists() and good.exists()
    assert isinstance(err.value, PersonalibError)


def test_clean_files_pass(tmp_path: Path):
    path = tmp_path / "r.html"
    path.write_text("nothing to see")
    check_no_secrets([path], ENV)
    check_no_secrets([path], {})
    assert path.exists()
