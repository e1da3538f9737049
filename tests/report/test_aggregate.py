"""Aggregation rules: statistics, GLUE average convention, provenance grouping, tidy frame."""

from __future__ import annotations

import statistics
from pathlib import Path

from report_fixtures import FONT_A, PIXEL, fixture_records, make_record

from pixel_bench.records import write_record
from pixel_bench.report import build_table, get_layout, latex_escape, load_results, render
from pixel_bench.report.names import task_key


def _write(root: Path, *records) -> Path:
    for rec in records:
        write_record(rec, root)
    return root


def test_tidy_frame_one_row_per_record_split_metric(results_dir: Path) -> None:
    loaded = load_results(results_dir)
    values = loaded.values
    mnli = values[(values["model"] == "pixel-base") & (values["task"] == "mnli")]
    assert sorted(set(mnli["split"])) == ["validation_matched", "validation_mismatched"]
    assert len(mnli) == 4  # 2 seeds x 2 splits x 1 metric
    assert {"model", "task", "seed", "split", "metric", "value", "architecture", "masking",
            "input", "prov_key", "font_sha256", "renderer_fingerprint"} <= set(values.columns)
    assert len(loaded.skipped) == 2 and len(loaded.records) == len(fixture_records())


def test_mean_std_ddof1_and_seed_count(tmp_path: Path) -> None:
    accs = (0.91, 0.935, 0.952)
    root = _write(tmp_path, *(make_record("m", "pos", s, {"validation": {"accuracy": a}},
                                          "accuracy", **PIXEL) for s, a in enumerate(accs)))
    table = build_table(load_results(root), get_layout("main"))
    cell = table.rows[0].cells["pos"]
    assert cell.n == 3
    assert abs(cell.mean - 100 * statistics.mean(accs)) < 1e-9
    assert abs(cell.std - 100 * statistics.stdev(accs)) < 1e-9  # sample std (ddof=1)


def test_glue_average_follows_the_pixel_paper(tmp_path: Path) -> None:
    """PIXEL README, 5-seed means: MNLI-m/mm 78.1/78.9, QQP F1 84.5, QNLI 87.8, SST-2 89.6,
    CoLA 38.4, STS-B 81.1, MRPC F1 88.2, RTE 60.5, WNLI 53.8 -> avg 74.1."""
    scores = {"qqp": ("f1", 0.845), "qnli": ("accuracy", 0.878), "sst2": ("accuracy", 0.896),
              "cola": ("matthews_correlation", 0.384), "stsb": ("spearmanr", 0.811),
              "mrpc": ("f1", 0.882), "rte": ("accuracy", 0.605), "wnli": ("accuracy", 0.538)}
    recs = [make_record("pixel-base", t, 1, {"validation": {m: v}}, m, **PIXEL)
            for t, (m, v) in scores.items()]
    recs.append(make_record("pixel-base", "mnli", 1,
                            {"validation_matched": {"accuracy": 0.781},
                             "validation_mismatched": {"accuracy": 0.789}}, "accuracy",
                            "validation_matched", **PIXEL))
    table = build_table(load_results(_write(tmp_path, *recs)), get_layout("leaderboard"))
    assert f"{table.rows[0].cells['glue-avg'].mean:.1f}" == "74.1"
    # one GLUE task short -> no average
    (tmp_path / "pixel-base" / "wnli" / "seed-1" / "record.json").unlink()
    table = build_table(load_results(tmp_path), get_layout("leaderboard"))
    assert table.rows[0].cells["glue-avg"].missing


def test_version_change_splits_the_whole_model(tmp_path: Path) -> None:
    root = _write(tmp_path,
                  make_record("m", "pos", 1, {"validation": {"accuracy": 0.9}}, "accuracy"),
                  make_record("m", "pos", 2, {"validation": {"accuracy": 0.8}}, "accuracy",
                              version="0.2.0"),
                  make_record("m", "ner", 1, {"validation": {"f1": 0.7}}, "f1"))
    table = build_table(load_results(root), get_layout("main"))
    labels = [r.label for r in table.rows]
    assert labels == ["m [v0.1.0]", "m [v0.2.0]"]
    assert table.rows[0].cells["pos"].mean == 90.0 and table.rows[0].cells["ner"].n == 1
    assert table.rows[1].cells["pos"].mean == 80.0 and table.rows[1].cells["ner"].missing
    assert ("v0.2.0", "pixel-bench version 0.2.0") in table.tag_legend


def test_renderer_fingerprints_differing_between_tasks_do_not_split(tmp_path: Path) -> None:
    root = _write(tmp_path,
                  make_record("m", "pos", 1, {"validation": {"accuracy": 0.9}}, "accuracy",
                              renderer_fp="a" * 64),
                  make_record("m", "squad", 1, {"validation": {"f1": 0.7}}, "f1",
                              renderer="pangocairo", renderer_fp="b" * 64))
    table = build_table(load_results(root), get_layout("main"))
    assert [r.label for r in table.rows] == ["m"] and not table.tag_legend


def test_missing_provenance_counts_as_its_own_group(tmp_path: Path) -> None:
    root = _write(tmp_path,
                  make_record("m", "pos", 1, {"validation": {"accuracy": 0.9}}, "accuracy"),
                  make_record("m", "pos", 2, {"validation": {"accuracy": 0.8}}, "accuracy",
                              font=None))
    table = build_table(load_results(root), get_layout("main"))
    assert [r.label for r in table.rows] == [f"m [font {FONT_A[:6]}]", "m [font ?]"]


def test_duplicate_seed_under_two_task_spellings_is_counted_once(tmp_path: Path) -> None:
    root = _write(tmp_path,
                  make_record("m", "sst2", 1, {"validation": {"accuracy": 0.9}}, "accuracy",
                              renderer_fp="c" * 64),
                  make_record("m", "glue-sst2", 1, {"validation": {"accuracy": 0.9}},
                              "accuracy", renderer_fp="c" * 64))
    table = build_table(load_results(root), get_layout("main"))
    assert table.rows[0].cells["sst2"].n == 1
    assert any("same model, task and seed" in w for w in table.warnings)


def test_percentages_stored_by_mistake_are_flagged(tmp_path: Path) -> None:
    root = _write(tmp_path, make_record("m", "pos", 1, {"validation": {"accuracy": 93.8}},
                                        "accuracy"))
    assert any("is this a percentage" in w for w in load_results(root).warnings)


def test_latex_escaping_and_task_keys() -> None:
    assert latex_escape("a_b & 50% #1 {x} ~^\\") == \
        r"a\_b \& 50\% \#1 \{x\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert [task_key(t) for t in ("SST-2", "glue_sst2", "conll2003", "MNLI", "udpos")] == \
        ["sst2", "sst2", "ner", "mnli", "pos"]


def test_best_bold_second_underlined_ties_share(tmp_path: Path) -> None:
    recs = [make_record(name, "pos", 1, {"validation": {"accuracy": v}}, "accuracy")
            for name, v in (("a", 0.90), ("b", 0.95), ("c", 0.95), ("d", 0.80), ("e", 0.70))]
    text = render(build_table(load_results(_write(tmp_path, *recs)), get_layout("main")),
                  "latex")
    rows = {line.split(" & ")[0]: line.split(" & ")[1] for line in text.splitlines()
            if line[:2] in ("a ", "b ", "c ", "d ", "e ")}
    assert rows == {"a": r"\underline{90.0}", "b": r"\textbf{95.0}", "c": r"\textbf{95.0}",
                    "d": "80.0", "e": "70.0"}
    assert "One seed per cell (no standard deviation)." in text


def test_non_integer_seed_is_a_skipped_file(tmp_path: Path) -> None:
    path = write_record(make_record("m", "pos", 1, {"validation": {"accuracy": 0.9}},
                                    "accuracy"), tmp_path)
    data = path.read_text().replace('"seed": 1', '"seed": "one"')
    path.write_text(data)
    loaded = load_results(tmp_path)
    assert loaded.records.empty and "'seed' must be an integer" in loaded.skipped[0][1]


def test_run_loop_provenance_shape_is_read(tmp_path: Path) -> None:
    """The run loop stores the backend as provenance.renderer.renderer and per-split data
    fingerprints under provenance.data."""
    rec = make_record("m", "pos", 1, {"validation": {"accuracy": 0.9}}, "accuracy")
    rec.provenance["renderer"] = {"renderer": "pangocairo", "fingerprint": "f" * 64,
                                  "settings": {}}
    rec.provenance.pop("data_fingerprint")
    rec.provenance["data"] = {"train": {"fingerprint": "a"}, "validation": {"fingerprint": "b"}}
    row = load_results(_write(tmp_path, rec)).records.iloc[0]
    assert row["renderer_name"] == "pangocairo" and len(row["data_fingerprint"]) == 64


def test_version_differing_across_tasks_splits_so_avg_never_mixes(tmp_path: Path) -> None:
    tasks = {"pos": "accuracy", "ner": "f1", "sst2": "accuracy", "rte": "accuracy",
             "squad": "f1"}
    recs = [make_record("m", t, 1, {"validation": {m: 0.8}}, m) for t, m in tasks.items()]
    recs.append(make_record("m", "mnli", 1, {"validation_matched": {"accuracy": 0.7},
                                             "validation_mismatched": {"accuracy": 0.7}},
                            "accuracy", "validation_matched", version="0.2.0"))
    table = build_table(load_results(_write(tmp_path, *recs)), get_layout("main"))
    assert [r.label for r in table.rows] == ["m [v0.1.0]", "m [v0.2.0]"]
    assert all(r.cells["avg"].missing for r in table.rows)


def test_mixed_data_in_a_cell_is_warned_about(tmp_path: Path) -> None:
    a = make_record("m", "pos", 1, {"validation": {"accuracy": 0.9}}, "accuracy")
    b = make_record("m", "pos", 2, {"validation": {"accuracy": 0.8}}, "accuracy")
    b.provenance["data_fingerprint"] = "other"
    table = build_table(load_results(_write(tmp_path, a, b)), get_layout("main"))
    assert table.rows[0].cells["pos"].n == 2
    assert any("m / pos: its records were scored on 2 different data sets" in w
               for w in table.warnings)


def test_registered_pixar_attribute_values_read_as_in_the_thesis() -> None:
    from pixel_bench.report.names import attribute_display

    assert [attribute_display("architecture", v) for v in
            ("encoder-only", "encoder-decoder", "encoder")] == ["Enc", "Enc-Dec", "Enc"]
    assert [attribute_display("masking", v) for v in ("none", "random", "span", None)] == \
        ["None", "Random", "Span", "–"]
    assert attribute_display("input", "grey") == "Grey"
