"""Research-question reports: notebooks executed with papermill, rendered to HTML, indexed.

Notebook cells call `record(key, value)`, `record_table(name, df)` and `headline(text)`; the
runner (`personalib.reports.run.build_reports`, CLI `python -m personalib report`) writes the
recorded key numbers as JSON/CSV next to each HTML report. See docs/reports.md.
"""

from personalib.reports.keynumbers import (KeyNumbers, RecordError, collect, headline, key_name,
                                           record, record_table)

__all__ = ["KeyNumbers", "RecordError", "collect", "headline", "key_name", "record", "record_table"]
