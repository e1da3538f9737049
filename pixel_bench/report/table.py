"""Aggregate records into a table: rows = models (split by provenance), cells = mean/std/n.

Grouping rule (see docs/reports.md): records whose pixel-bench version, font file (sha256) or
renderer settings (fingerprint) differ are never averaged together. Where a model's records would
mix them, they are split into rows labelled with a short provenance tag:

* version and font are properties of the whole run, so when a model's records in the table differ
  in one, every record of that model is tagged with it ("pixel-base [font 3fa2c1]"): neither a
  cell nor a row average ever combines two versions or fonts;
* the renderer fingerprint legitimately differs between tasks (it hashes max_seq_length, and the
  recipes use PyGame for GLUE and PangoCairo for SQuAD), so it is compared only within a cell, and
  only the records of a conflicting cell get a renderer tag ("pixel-base [pygame 1a2b3c]").

Records of a non-standard setup (``--limit``, recipe values changed on the command line, random
init of a pretrained model; :func:`pixel_bench.cells.nonstandard_of`) carry a mark ("†", "†2")
on their cells, explained in the notes; they are never averaged with another setup (a cell that
would mix them moves them to a row tagged with the mark) and never ranked best.

Values are percentages (fraction x 100); std is the sample standard deviation (ddof=1) over seeds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from .layouts import AverageColumn, Column, Layout
from .load import Results
from .names import ATTRIBUTE_ORDER, FAMILY_ORDER, attribute_display, task_display, task_key


@dataclass
class Cell:
    mean: float | None = None
    std: float | None = None  # None with one seed
    n: int = 0
    mark: str = ""  # "†" / "†2": the records come from a non-standard setup (legend in Table)

    @property
    def missing(self) -> bool:
        return self.mean is None


@dataclass
class Row:
    model: str
    tag: str  # "" unless provenance split the model's records
    attributes: dict[str, str] = field(default_factory=dict)  # display values
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.model} [{self.tag}]" if self.tag else self.model


@dataclass
class Table:
    layout: Layout
    columns: list[Column | AverageColumn]
    rows: list[Row]
    bases: dict[str, list[str]]  # split family ("validation", "test") -> column headers using it
    tag_legend: list[tuple[str, str]] = field(default_factory=list)
    column_splits: dict[str, str] = field(default_factory=dict)  # column key -> split read
    warnings: list[str] = field(default_factory=list)
    # (mark, how the setup deviates) for the non-standard setups shown; see _nonstandard_tags
    nonstandard_legend: list[tuple[str, str]] = field(default_factory=list)
    nonstandard_left_out: int = 0  # records dropped by only_standard

    @property
    def value_columns(self) -> list[Column]:
        return [c for c in self.columns if isinstance(c, Column)]

    def seed_counts(self) -> list[int]:
        return [row.cells[c.key].n for row in self.rows for c in self.value_columns
                if not row.cells[c.key].missing]


def _close(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def build_table(results: Results, layout: Layout, models: list[str] | None = None,
                tasks: list[str] | None = None, split: str | None = None,
                only_standard: bool = False) -> Table:
    """Aggregate ``results`` into ``layout``.

    ``models`` restricts and orders the rows (each must have records); ``tasks`` restricts the
    columns; ``split`` replaces each record's base split ("test" reads test / test_matched /
    test.fr). Unknown model or task names raise UnknownNameError listing the valid ones.
    Records of a non-standard setup (``--limit``, recipe values changed on the command line,
    random init of a pretrained model) are marked, never averaged with another setup, and
    never ranked best; ``only_standard`` leaves them out.
    """
    records = results.records
    known_models = sorted(set(records["model"]))
    if models:
        for name in models:
            if name not in known_models:
                raise UnknownNameError(
                    f"unknown model {name!r}: no records for it.{_close(name, known_models)} "
                    f"Models with records: {', '.join(known_models) or '(none)'}")
        records = records[records["model"].isin(models)]

    columns = layout.columns(records)
    if tasks:
        known_tasks = sorted(set(results.records["task"]) | set(layout.tasks))
        known_keys = {task_key(t) for t in known_tasks}
        wanted = set()
        for name in tasks:
            if task_key(name) not in known_keys:
                raise UnknownNameError(
                    f"unknown task {name!r} for layout {layout.name!r}."
                    f"{_close(name, known_tasks)} Valid tasks: {', '.join(known_tasks)}")
            wanted.add(task_key(name))
        columns = [c for c in columns if isinstance(c, AverageColumn) or c.task in wanted]
        kept = {c.key for c in columns}
        columns = [c for c in columns if not isinstance(c, AverageColumn)
                   or set(c.over) <= kept]
    value_cols = [c for c in columns if isinstance(c, Column)]

    scope = records[records["task_key"].isin({c.task for c in value_cols})].copy()
    # One split family per task, so a column never averages validation with test numbers:
    # --split, else the family most of the task's records were scored on (ties: validation).
    if split:
        scope["base"] = split
    else:
        scope["base"] = scope["task_key"].map(_task_bases(scope))
    left_out = 0
    if only_standard:
        left_out = int((scope["nonstandard"] != "").sum())
        scope = scope[scope["nonstandard"] == ""].copy()
    scope["tag"], legend = _provenance_tags(scope)
    scope["tag"], ns_legend = _nonstandard_tags(scope)
    ns_marks = dict((desc, mark) for mark, desc in ns_legend)
    warnings: list[str] = []
    scope = _drop_duplicate_seeds(scope, warnings)
    _warn_mixed_data(scope, warnings)

    values = results.values
    values = values[values["task_key"].isin({c.task for c in value_cols})]
    lookup = dict(zip(zip(values["path"], values["split"], values["metric"]), values["value"]))
    cells: dict[tuple[str, str], dict[str, Cell]] = {}
    bases: dict[str, list[str]] = {}
    for col in value_cols:
        per_record = _column_values(scope[scope["task_key"] == col.task], lookup, col, warnings)
        if per_record.empty:
            continue
        for base in sorted(set(per_record["base"])):
            headers = bases.setdefault(base, [])
            if col.header not in headers:
                headers.append(col.header)
        grouped = per_record.groupby(["model", "tag"], sort=False)
        stats = grouped["value"].agg(["mean", "std", "count"])  # pandas std: ddof=1
        setups = grouped["nonstandard"].first()  # one setup per (model, tag, task): see tags
        for (model, tag), mean, std, n in zip(stats.index, stats["mean"], stats["std"],
                                              stats["count"]):
            cells.setdefault((model, tag), {})[col.key] = Cell(
                float(mean), float(std) if n > 1 else None, int(n),
                ns_marks.get(setups[(model, tag)], ""))

    attributes = _attribute_lookup(results.records, scope, layout)
    row_keys = list(dict.fromkeys(zip(scope["model"], scope["tag"])))
    for name in models or []:
        if not any(m == name for m, _ in row_keys):
            row_keys.append((name, ""))  # asked for explicitly: shown even if all "–"
    rows = []
    for model, tag in row_keys:
        row = Row(model, tag, cells=cells.get((model, tag), {}))
        for col in value_cols:
            row.cells.setdefault(col.key, Cell())
        for col in columns:
            if isinstance(col, AverageColumn):
                parts = [row.cells[k] for k in col.over if k in row.cells]
                if len(parts) == len(col.over) and all(not p.missing for p in parts):
                    row.cells[col.key] = Cell(sum(p.mean for p in parts) / len(parts), None, 0,
                                              "†" if any(p.mark for p in parts) else "")
                else:
                    row.cells[col.key] = Cell()
        row.attributes = attributes(model, tag)
        rows.append(row)
    rows = _order_rows(rows, results.records, layout, models)
    ns_legend = _number_marks_in_reading_order(rows, value_cols, ns_legend)
    task_bases = {} if split else _task_bases(scope)
    column_splits = {c.key: (split or task_bases.get(c.task, "")) +
                     (".*" if c.average_of else c.suffix) for c in value_cols}
    column_splits = {k: v for k, v in column_splits.items() if not v.startswith((".", "_"))}
    return Table(layout, columns, rows, bases=dict(sorted(bases.items())), tag_legend=legend,
                 column_splits=column_splits, warnings=warnings, nonstandard_legend=ns_legend,
                 nonstandard_left_out=left_out)


def _task_bases(scope: pd.DataFrame) -> dict[str, str]:
    out = {}
    for key, bases in scope.groupby("task_key")["base_split"]:
        counts = bases.value_counts()
        best = counts.max()
        tied = sorted(b for b, c in counts.items() if c == best)
        out[key] = "validation" if "validation" in tied else tied[0]
    return out


def _column_values(sub: pd.DataFrame, lookup: dict[tuple[str, str, str], float], col: Column,
                   warnings: list[str]) -> pd.DataFrame:
    """One row per record of ``sub`` that has the column's value (percent), with model/tag."""
    suffixes = col.average_of or (col.suffix,)
    paths, bases = sub["path"].tolist(), sub["base"].tolist()
    # Plain dict look-ups: much faster than a pandas merge per column on arrow-backed strings.
    found = np.array([[lookup.get((p, b + suffix, col.metric), np.nan) for suffix in suffixes]
                      for p, b in zip(paths, bases)], dtype=float).reshape(len(paths),
                                                                         len(suffixes))
    have = ~np.isnan(found)
    complete = have.all(axis=1)
    for i in np.flatnonzero(~complete):
        if col.average_of:
            warnings.append(f"{paths[i]}: {col.metric!r} present for {int(have[i].sum())} of "
                            f"{len(suffixes)} splits {bases[i]}.* needed by column "
                            f"{col.label!r}; left out of that cell")
        else:
            warnings.append(f"{paths[i]}: no metric {col.metric!r} in split "
                            f"{bases[i] + col.suffix!r} (column {col.label!r}); left out of "
                            "that cell")
    out = sub.loc[complete, ["model", "tag", "base", "nonstandard"]].copy()
    out["value"] = found[complete].mean(axis=1) * 100.0 if len(out) else []
    return out


def _provenance_tags(scope: pd.DataFrame) -> tuple[pd.Series, list[tuple[str, str]]]:
    """The row tag of every record in ``scope`` (rule in the module docstring), and the legend:
    (tag part, what it means) for every part used."""
    if scope.empty:
        return pd.Series([], index=scope.index, dtype=object), []
    s = scope.fillna({"pixel_bench_version": "", "font_sha256": "", "renderer_fingerprint": "",
                      "renderer_name": ""})
    legend: dict[str, str] = {}
    parts: list[pd.Series] = []
    for column, fmt, meaning in (
            ("pixel_bench_version", _version_tag,
             lambda v: f"pixel-bench version {v or 'unknown'}"),
            ("font_sha256", _font_tag,
             lambda v: f"font file sha256 {v[:16] + '...' if v else 'not recorded'}")):
        # Model-wide: differing anywhere in the layout splits the rows, so neither a cell nor
        # a row's Avg ever combines two versions or fonts.
        conflict = s.groupby("model")[column].nunique() > 1
        split_models = {m for m, bad in conflict.items() if bad}
        mask = s["model"].isin(split_models)
        part = pd.Series("", index=s.index, dtype=object)
        part.loc[mask] = s.loc[mask, column].map(fmt)
        for value in s.loc[mask, column].unique():
            legend[fmt(value)] = meaning(value)
        parts.append(part)
    # Renderer settings: compared within a cell (and within its version/font group).
    group = [s["model"], s["task_key"], parts[0].rename("_v"), parts[1].rename("_f")]
    conflict = s.groupby(group)["renderer_fingerprint"].transform("nunique") > 1
    part = pd.Series("", index=s.index, dtype=object)
    for idx in s.index[conflict.to_numpy()]:
        name, fp = s.at[idx, "renderer_name"], s.at[idx, "renderer_fingerprint"]
        part.at[idx] = _render_tag(name, fp)
        legend[part.at[idx]] = (f"renderer {name or '?'} with settings fingerprint {fp[:16]}..."
                                if fp else "no renderer recorded") + \
            f" ({task_display(s.at[idx, 'task_key'], s.at[idx, 'task'])})"
    parts.append(part)
    tags = [" ".join(p for p in triple if p) for triple in zip(*parts)]
    return pd.Series(tags, index=s.index, dtype=object), sorted(legend.items())


def _nonstandard_tags(scope: pd.DataFrame) -> tuple[pd.Series, list[tuple[str, str]]]:
    """Marks for non-standard setups ("†" when the table has one, else "†1", "†2", ... in the
    order of their descriptions) and the row tags with the mark added where a cell would
    otherwise mix setups: inside one model/tag/task, records of a non-standard setup beside
    standard ones or another setup move to a row tagged with their mark (standard records stay
    untagged). A cell whose records share one non-standard setup stays in its row, marked."""
    tags = scope["tag"].copy() if "tag" in scope else pd.Series([], dtype=object)
    if scope.empty:
        return tags, []
    setups = sorted(set(scope["nonstandard"]) - {""})
    marks = {d: "†" if len(setups) == 1 else f"†{i}" for i, d in enumerate(setups, 1)}
    mixed = scope.groupby(["model", "tag", "task_key"])["nonstandard"].transform("nunique") > 1
    move = mixed.to_numpy() & (scope["nonstandard"] != "").to_numpy()
    for idx in scope.index[move]:
        tags.at[idx] = " ".join(p for p in (tags.at[idx], marks[scope.at[idx, "nonstandard"]])
                                if p)
    return tags, [(marks[d], d) for d in setups]


def _number_marks_in_reading_order(rows: list[Row], value_cols: list[Column],
                                   legend: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Renumber "†k" marks so they read †1, †2, ... from the first row and column on (they
    were numbered by description to build the rows); returns the legend in that order."""
    if len(legend) < 2:
        return legend
    seen: list[str] = []
    for row in rows:
        for mark in [*row.tag.split(" "), *(row.cells[c.key].mark for c in value_cols)]:
            if mark.startswith("†") and mark not in seen:
                seen.append(mark)
    seen += [m for m, _d in legend if m not in seen]
    new = {old: f"†{i}" for i, old in enumerate(seen, 1)}
    for row in rows:
        row.tag = " ".join(new.get(part, part) for part in row.tag.split(" "))
        for cell in row.cells.values():
            if cell.mark in new:
                cell.mark = new[cell.mark]
    meaning = dict(legend)
    return [(new[old], meaning[old]) for old in seen]


def _version_tag(version: str) -> str:
    return f"v{version}" if version else "v?"


def _font_tag(sha: str) -> str:
    return f"font {sha[:6]}" if sha else "font ?"


def _render_tag(name: str, fingerprint: str) -> str:
    if not fingerprint:
        return "no renderer"
    return f"{name or 'renderer'} {fingerprint[:6]}"


def _warn_mixed_data(scope: pd.DataFrame, warnings: list[str]) -> None:
    """Different data in one cell (a --limit smoke run beside full runs, another data release)
    does not split rows, but it deserves a warning."""
    data = scope.dropna(subset=["data_fingerprint"])
    mixed = data.groupby(["model", "tag", "task"])["data_fingerprint"].nunique()
    for (model, tag, task), n in mixed[mixed > 1].items():
        label = f"{model} [{tag}]" if tag else model
        warnings.append(f"{label} / {task}: its records were scored on {n} different data sets "
                        "(data fingerprints differ: a --limit run beside full runs?); averaged "
                        "anyway")


def _drop_duplicate_seeds(scope: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Two files for the same model/task/seed/provenance (e.g. "sst2" and "glue-sst2"): keep the
    first so a seed is never counted twice."""
    dup = scope.duplicated(["model", "tag", "task_key", "seed"], keep="first")
    for path in scope.loc[dup, "path"]:
        warnings.append(f"{path}: another record has the same model, task and seed; ignored")
    return scope[~dup]


def _attribute_lookup(all_records: pd.DataFrame, scope: pd.DataFrame,
                      layout: Layout) -> Callable[[str, str], dict[str, str]]:
    """(model, tag) -> display attributes: the most common value among the row's records (the
    model's records in general for a row with no record in scope)."""
    names = [a for a, _h in layout.attributes]
    if not names:
        return lambda _m, _t: {}

    def modes(frame: pd.DataFrame, keys: list[str]) -> dict:
        out: dict = {}
        for attr in names:
            counts = frame.dropna(subset=[attr]).groupby([*keys, attr]).size()
            for key_and_value, _n in counts.sort_values(ascending=False, kind="stable").items():
                out.setdefault((attr, *key_and_value[:-1]), key_and_value[-1])
        return out

    by_row = modes(scope, ["model", "tag"])
    by_model = modes(all_records, ["model"])

    def lookup(model: str, tag: str) -> dict[str, str]:
        own = any((a, model, tag) in by_row for a in names)
        return {a: attribute_display(a, by_row.get((a, model, tag)) if own
                                     else by_model.get((a, model))) for a in names}
    return lookup


def _order_rows(rows: list[Row], records: pd.DataFrame, layout: Layout,
                models: list[str] | None) -> list[Row]:
    """``--models`` order if given; else baseline family first, then (ablation) attribute order
    as in thesis Table 4.3, then name; an untagged row before its tagged siblings."""
    families = records.groupby("model")["family"].first().to_dict()

    def family_rank(model: str) -> int:
        fam = families.get(model)
        return FAMILY_ORDER.index(fam) if fam in FAMILY_ORDER else len(FAMILY_ORDER)

    def attr_rank(row: Row) -> tuple:
        out = []
        for attr, _header in layout.attributes:
            order = ATTRIBUTE_ORDER.get(attr, ())
            value = row.attributes.get(attr, "")
            out.append((order.index(value) if value in order else len(order), value))
        return tuple(out)

    if models:
        position = {m: i for i, m in enumerate(models)}
        return sorted(rows, key=lambda r: (position[r.model], r.tag))
    return sorted(rows, key=lambda r: (family_rank(r.model), attr_rank(r), r.model, r.tag))


def rank_marks(table: Table) -> dict[tuple[int, str], int]:
    """{(row index, column key): 1 for best, 2 for second} per value or average column.

    Compared at display precision (one decimal), so ties look tied and share a mark. Best is
    marked when a column has at least two distinct values; second only when it has three.
    """
    marks: dict[tuple[int, str], int] = {}
    for col in table.columns:
        # non-standard cells (a smoke run, changed recipe values) are never "best"
        shown = {i: round(row.cells[col.key].mean, 1) for i, row in enumerate(table.rows)
                 if not row.cells[col.key].missing and not row.cells[col.key].mark}
        distinct = sorted(set(shown.values()), reverse=True)
        if len(distinct) < 2:  # one result, or all tied: there is no "best"
            continue
        for i, value in shown.items():
            if value == distinct[0]:
                marks[(i, col.key)] = 1
            elif len(distinct) >= 3 and value == distinct[1]:
                marks[(i, col.key)] = 2
    return marks

