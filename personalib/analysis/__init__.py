"""The research-question analyses behind the notebooks (METHODS 5-6): load, compute, show.

`data.load_study` reads and scores a profile's generations; `show` displays tables and plain-language
notes; `figures` draws the shared plots; `provenance` closes every report; `rq1`..`rq4` hold each
research question's tables and figures, so the notebooks only narrate, call and display.
"""

from personalib.analysis.data import Study, load_study, persona_table

__all__ = ["Study", "load_study", "persona_table"]
