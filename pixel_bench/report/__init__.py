"""Leaderboard tables from result records: ``records -> tidy frame -> table -> text/PNG``.

Never imports torch or transformers, so it runs anywhere results/ can be read, even while
experiments are still writing records::

    from pixel_bench.report import load_results, get_layout, build_table, render
    results = load_results("results")
    table = build_table(results, get_layout("main"))
    print(render(table, "latex"))
"""

from .formats import FORMATS, latex_escape, render
from .layouts import LAYOUTS, AverageColumn, Column, Layout, get_layout
from .load import Results, load_results
from .table import Cell, Row, Table, build_table

__all__ = ["FORMATS", "LAYOUTS", "AverageColumn", "Cell", "Column", "Layout", "Results", "Row",
           "Table", "build_table", "get_layout", "latex_escape", "load_results", "render"]
