"""Render a :class:`~pixel_bench.report.table.Table` as markdown, LaTeX, CSV or HTML text.

All formats show the same numbers: percentages with one decimal (CSV: four), mean +- sample std
(ddof=1) over seeds with the number of seeds, "–" (LaTeX "--", CSV empty) for a missing result.
PNG lives in :mod:`pixel_bench.report.plot` so matplotlib is imported only when asked for.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter

from .layouts import AverageColumn, Column
from .table import Cell, Table, rank_marks

MISSING = "–"
FORMATS = ("markdown", "latex", "csv", "html", "png")
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".csv": "csv",
            ".html": "html", ".htm": "html", ".png": "png"}


def fmt1(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _cell_text(cell: Cell, average: bool) -> str:
    """Markdown/HTML cell: "93.8 ± 0.4 (n=3)", "93.8 (n=1)", Avg cells just "85.1"."""
    if cell.missing:
        return MISSING
    mark = f" {cell.mark}" if cell.mark else ""
    if average:
        return fmt1(cell.mean) + mark
    spread = f" ± {fmt1(cell.std)}" if cell.std is not None else ""
    return f"{fmt1(cell.mean)}{spread} (n={cell.n}){mark}"


def _headers(table: Table) -> list[str]:
    return ["Model", *(h for _a, h in table.layout.attributes), *(c.label for c in table.columns)]


def _split_phrase(table: Table) -> str:
    """ "validation split", or "test split (POS, NER) and validation split (SST-2)"."""
    if not table.bases:
        return "no results"
    if len(table.bases) == 1:
        return f"{next(iter(table.bases))} split"
    return " and ".join(f"{base} split ({', '.join(headers)})"
                        for base, headers in table.bases.items())


def notes(table: Table, pm: str = "±", dash: str = MISSING) -> list[str]:
    """The sentences under (or in the caption of) a table, in plain text."""
    out = [f"Scores are percentages on the {_split_phrase(table)}: mean {pm} standard deviation "
           f"over seeds (sample std, ddof=1; none with one seed); {dash} = no result."]
    out.extend(c.definition for c in table.columns if isinstance(c, AverageColumn))
    if table.tag_legend:
        out.append("Records whose pixel-bench version, font file or renderer settings differ are "
                   "never averaged together; their rows carry a tag: " +
                   "; ".join(f"[{part}] = {meaning}" for part, meaning in table.tag_legend) + ".")
    if table.nonstandard_legend:
        out.append(nonstandard_note(table))
    return out


def nonstandard_note(table: Table) -> str:
    """The sentence explaining the marks of non-standard cells."""
    legend = table.nonstandard_legend
    text = ("† marks a non-standard setup (a subset of the examples, recipe values changed on "
            "the command line, or random init of a pretrained model): never averaged with "
            "another setup nor ranked best")
    if any(isinstance(c, AverageColumn) for c in table.columns):
        text += "; an average over a marked cell is marked †"
    if len(legend) == 1:
        return text + f". Setup: {legend[0][1]}."
    return text + ". " + "; ".join(f"{mark} = {desc}" for mark, desc in legend) + "."


# -- markdown ---------------------------------------------------------------------------------

def to_markdown(table: Table) -> str:
    headers = _headers(table)
    n_attr = 1 + len(table.layout.attributes)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join([":---"] * n_attr + ["---:"] * len(table.columns)) + "|"]
    for row in table.rows:
        cells = [row.label, *(row.attributes.get(a, MISSING) for a, _h in table.layout.attributes)]
        cells += [_cell_text(row.cells[c.key], isinstance(c, AverageColumn))
                  for c in table.columns]
        lines.append("| " + " | ".join(_md_escape(x) for x in cells) + " |")
    if not table.rows:
        lines.append("| (no records match) |" + " |" * (len(headers) - 1))
    return "\n".join(lines) + "\n\n" + "\n".join(notes(table)) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


# -- LaTeX ------------------------------------------------------------------------------------

_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                   "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                   "^": r"\textasciicircum{}", "–": "--", "±": r"$\pm$", "†": r"\textdagger{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in names (model names often contain ``_``)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def _modal_n(table: Table) -> int | None:
    counts = Counter(table.seed_counts())
    if not counts:
        return None
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def to_latex(table: Table, label: str | None = None) -> str:
    """A booktabs ``table`` float: best per column bold, second underlined, caption explaining
    +- and the number of seeds. Needs ``\\usepackage{booktabs}`` and ``graphicx`` (the tabular
    is scaled down to ``\\linewidth`` when it is wider, never up)."""
    attrs = table.layout.attributes
    n_lead = 1 + len(attrs)
    ncols = n_lead + len(table.columns)
    modal = _modal_n(table)
    marks = rank_marks(table)

    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\caption{" + _latex_caption(table, modal) + "}",
             r"\label{" + (label or f"tab:pixel-bench-{table.layout.name}") + "}",
             # Shrunk to the text width only when wider (XNLI's 16 columns), never enlarged.
             r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
             r"\begin{tabular}{" + "l" * n_lead + "r" * len(table.columns) + "}", r"\toprule"]
    # Spanning group headers (Token-level / Sentence-level / GLUE ...), as in the thesis tables.
    spans = _group_spans(table.columns)
    if any(group for group, _s, _e in spans):
        cells, rules = [""] * n_lead, []
        for group, start, end in spans:
            width = end - start
            if group:
                cells.append(r"\multicolumn{%d}{c}{%s}" % (width, latex_escape(group))
                             if width > 1 else latex_escape(group))
                rules.append(r"\cmidrule(lr){%d-%d}" % (n_lead + start + 1, n_lead + end))
            else:
                cells.extend([""] * width)
        lines.append(" & ".join(cells) + r" \\")
        lines.append(" ".join(rules))
    lines.append(" & ".join(["Model", *(latex_escape(h) for _a, h in attrs),
                             *(latex_escape(c.header) for c in table.columns)]) + r" \\")
    if any(c.metric_label for c in table.columns):
        lines.append(" & ".join([""] * n_lead + [latex_escape(c.metric_label)
                                                  for c in table.columns]) + r" \\")
    lines.append(r"\midrule")
    for i, row in enumerate(table.rows):
        cells = [latex_escape(row.label), *(latex_escape(row.attributes.get(a, MISSING))
                                            for a, _h in attrs)]
        for col in table.columns:
            cells.append(_latex_cell(row.cells[col.key], marks.get((i, col.key)),
                                     isinstance(col, AverageColumn), modal))
        lines.append(" & ".join(cells) + r" \\")
    if not table.rows:
        lines.append(r"\multicolumn{%d}{c}{(no records match)} \\" % ncols)
    lines += [r"\bottomrule", r"\end{tabular}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _latex_cell(cell: Cell, mark: int | None, average: bool, modal: int | None) -> str:
    if cell.missing:
        return "--"
    mean = fmt1(cell.mean)
    if mark == 1:
        mean = r"\textbf{%s}" % mean
    elif mark == 2:
        mean = r"\underline{%s}" % mean
    sup = [r"\dagger%s" % cell.mark[1:]] if cell.mark else []  # a non-standard setup
    if average:
        return mean + ("$^{%s}$" % sup[0] if sup else "")
    # A small "± std" keeps wide tables (XNLI: 16 columns) closer to the page width.
    text = mean + (r"\,{\scriptsize$\pm$\,%s}" % fmt1(cell.std) if cell.std is not None else "")
    if cell.n != modal:
        sup.insert(0, "n=%d" % cell.n)
    return text + ("$^{%s}$" % ",".join(sup) if sup else "")


def _latex_caption(table: Table, modal: int | None) -> str:
    layout = table.layout
    counts = set(table.seed_counts())
    if not counts:
        seeds = ""
    elif counts == {1}:
        seeds = " One seed per cell (no standard deviation)."
    elif len(counts) == 1:
        seeds = f" Mean $\\pm$ standard deviation over {modal} seeds (sample std, ddof=1)."
    else:
        seeds = (" Mean $\\pm$ standard deviation over seeds (sample std, ddof=1; none with one "
                 f"seed): cells without a superscript use {modal} seed{'s' if modal != 1 else ''},"
                 " a superscript $n$ gives the number of seeds of the others.")
    text = [latex_escape(layout.title) + f" ({latex_escape(_split_phrase(table))}, \\%)." + seeds,
            "Best per column in bold, second best underlined; -- = no result."]
    text.extend(latex_escape(c.definition) for c in table.columns
                if isinstance(c, AverageColumn))
    if table.tag_legend:
        text.append(latex_escape(
            "Records whose pixel-bench version, font file or renderer settings differ are never "
            "averaged together; their rows carry a tag: " +
            "; ".join(f"[{p}] = {m}" for p, m in table.tag_legend) + "."))
    if table.nonstandard_legend:
        text.append(latex_escape(nonstandard_note(table)))
    return " ".join(text)


def _group_spans(columns: list[Column | AverageColumn]) -> list[tuple[str, int, int]]:
    """Runs of equal ``group`` as (group, start, end) column positions."""
    spans: list[tuple[str, int, int]] = []
    for i, col in enumerate(columns):
        if spans and spans[-1][0] == col.group:
            spans[-1] = (col.group, spans[-1][1], i + 1)
        else:
            spans.append((col.group, i, i + 1))
    return spans


# -- CSV --------------------------------------------------------------------------------------

#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_safe(value: object) -> object:
    """Neutralise spreadsheet formula injection: a text cell starting with = + - @ (or tab/CR),
    e.g. a model name or tag taken from a record, gets a leading ``'`` (OWASP). Numbers, and
    text that is just a number such as ``-0.5000``, stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and \
            not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(table: Table) -> str:
    """Long format, one line per row x column: mean, std, n (percentages, 4 decimals), and how
    the cell's setup is non-standard (empty: standard)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def write(row: list[object]) -> None:
        writer.writerow([csv_safe(v) for v in row])

    attrs = [a for a, _h in table.layout.attributes]
    write(["model", "provenance_tag", *attrs, "column", "task", "split", "metric",
           "mean", "std", "n", "nonstandard"])
    setups = dict(table.nonstandard_legend)
    for row in table.rows:
        head = [row.model, row.tag, *(row.attributes.get(a, "") for a in attrs)]
        for col in table.columns:
            cell = row.cells[col.key]
            mean = "" if cell.missing else f"{cell.mean:.4f}"
            if isinstance(col, AverageColumn):
                # task lists the averaged column keys; std and n do not apply to an average
                note = "averages non-standard cells" if cell.mark else ""
                write([*head, col.label, "+".join(col.over), "", "mean", mean, "", "", note])
                continue
            split = table.column_splits.get(col.key, "")
            std = "" if cell.std is None else f"{cell.std:.4f}"
            write([*head, col.label, col.task, split, col.metric, mean, std, cell.n,
                   setups.get(cell.mark, "")])
    return buf.getvalue()


# -- HTML -------------------------------------------------------------------------------------

def to_html(table: Table) -> str:
    marks = rank_marks(table)
    esc = html.escape
    out = ['<table class="pixel-bench-report">',
           f"<caption>{esc(table.layout.title)}. " + esc(" ".join(notes(table))) + "</caption>",
           "<thead>"]
    spans = _group_spans(table.columns)
    n_lead = 1 + len(table.layout.attributes)
    if any(g for g, _s, _e in spans):
        cells = [f'<th colspan="{n_lead}"></th>'] + [
            f'<th colspan="{e - s}">{esc(g)}</th>' for g, s, e in spans]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in _headers(table)) + "</tr>")
    out += ["</thead>", "<tbody>"]
    for i, row in enumerate(table.rows):
        cells = [f"<th>{esc(row.label)}</th>"] + [
            f"<td>{esc(row.attributes.get(a, MISSING))}</td>" for a, _h in table.layout.attributes]
        for col in table.columns:
            text = esc(_cell_text(row.cells[col.key], isinstance(col, AverageColumn)))
            mark = marks.get((i, col.key))
            if mark == 1:
                text = f"<strong>{text}</strong>"
            elif mark == 2:
                text = f"<u>{text}</u>"
            cells.append(f'<td style="text-align:right">{text}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out) + "\n"


def render(table: Table, fmt: str) -> str:
    """Text of ``table`` in ``fmt`` (markdown, latex, csv, html)."""
    return {"markdown": to_markdown, "latex": to_latex, "csv": to_csv, "html": to_html}[fmt](table)
