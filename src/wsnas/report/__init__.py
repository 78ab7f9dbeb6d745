"""Run dirs -> the paper's tables and figures, aggregated over seeds, with an index.html.

Modules, in the order a report is made: `runs` (find and read run dirs), `analysis`
(settings, factors, aggregation over seeds), `tables` (CSV and Markdown), `figures`
(PNG), `index` (index.html) and `write` (write_report, which does it all).
"""

from wsnas.report.analysis import spearman_pairs
from wsnas.report.runs import RunRecord, find_run_dirs, load_runs
from wsnas.report.write import Report, write_report

__all__ = ["Report", "RunRecord", "find_run_dirs", "load_runs", "spearman_pairs", "write_report"]
