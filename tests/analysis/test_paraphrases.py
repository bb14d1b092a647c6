"""RQ3 instruction paraphrases (personalib.analysis.paraphrases, the paper's Figure 8): the
per-variant means and their spread checked against plain pandas on the fixture's scored rows."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pytest

from personalib.analysis import Study, rq3


def test_variant_means_and_spread(study: Study) -> None:
    means = rq3.variant_means(study)
    rows = study.rows("attitudes", "mistral")
    frame = rows.assign(value=rows["value"].astype(float), statement_index=rows["statement_index"].astype(int),
                        variant=rows["variant"].astype(int), persona=rows["persona"].astype(str))
    hand = frame.groupby(["statement_index", "variant"])["value"].mean()
    got = means.table[means.table["model"] == "mistral"].set_index(["statement_index", "variant"])["value"]
    assert got.loc[hand.index].to_numpy() == pytest.approx(hand.to_numpy())
    spread = rq3.paraphrase_spread(study, means).table
    row = spread[(spread["model"] == "mistral") & (spread["statement_index"] == 3)].iloc[0]
    assert row["std"] == pytest.approx(hand.loc[3].std(ddof=1))
    assert row["range"] == pytest.approx(hand.loc[3].max() - hand.loc[3].min())
    within = frame[frame["statement_index"] == 3].groupby("persona")["value"].std(ddof=1).mean()
    assert row["within_persona_std"] == pytest.approx(within)
    assert row["variants"] == frame["variant"].nunique() and isinstance(row["statement"], str)
    fig = rq3.paraphrase_figure(means)
    assert fig is not None and len([a for a in fig.axes if a.get_title()]) == 2
    plt.close(fig)


def test_no_attitudes_is_a_note(study: Study, capsys) -> None:
    none = dataclasses.replace(study, sources={k: v for k, v in study.sources.items() if k[1] != "attitudes"},
                               _last=None, _all=None)
    means = rq3.variant_means(none)
    assert means.empty and rq3.paraphrase_spread(none, means).empty
    assert rq3.paraphrase_figure(means) is None
    assert "no attitude questionnaire generations" in capsys.readouterr().out
