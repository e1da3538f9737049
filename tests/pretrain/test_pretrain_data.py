"""Pretraining corpus: reading, UTF-8 replacement counting, PIXEL's line packing, sharding and
resumable positions."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from pixel_bench.errors import DataError
from pixel_bench.train.pretrain_data import (Line, PackedCorpus, ShardState, TextSource,
                                             decode_counting, pack_lines, worker_roles)


def test_decode_counting_counts_only_invalid_bytes():
    assert decode_counting("plain \ufffd text".encode()) == ("plain \ufffd text", 0)
    text, bad = decode_counting(b"caf\xe9 ok \xff\xfe and \xef\xbf\xbd")
    assert bad == 3 and text.count("\ufffd") == 4


def test_text_source_reads_gzip_plain_and_marks_documents(tmp_path: Path):
    (tmp_path / "a.txt").write_text("<doc id=\"1\">\nTitle\n\nbody line\n</doc>\n", "utf-8")
    with gzip.open(tmp_path / "b.gz", "wt", encoding="utf-8") as fh:
        fh.write("second file\n")
    lines = list(TextSource(tmp_path).lines())
    texts = [(ln.text, ln.boundary) for ln in lines]
    assert texts == [("", True), ("Title", False), ("", False), ("body line", False),
                     ("", True), ("", True), ("second file", False), ("", True)]
    assert [ln.index for ln in lines] == list(range(len(lines)))
    # restart from any global line index
    assert [ln.text for ln in TextSource(tmp_path).lines(6)] == ["second file", ""]


def test_text_source_errors(tmp_path: Path):
    with pytest.raises(DataError, match="not found"):
        TextSource(tmp_path / "missing.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="contains no files"):
        TextSource(tmp_path / "empty")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n<doc id=\"3\">\n</doc>\n   \n", "utf-8")
    with pytest.raises(DataError, match="empty"):
        TextSource(blank).check_not_empty()


def test_text_source_counts_invalid_utf8(tmp_path: Path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good line\nna\xefve caf\xe9\n")
    lines = list(TextSource(path).lines())
    assert [ln.invalid for ln in lines[:2]] == [0, 2]
    assert lines[1].text == "na\ufffdve caf\ufffd"


def test_hf_dataset_from_disk(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ["first doc line one\nline two", "second doc"]})
    ds.save_to_disk(str(tmp_path / "hf"))
    src = TextSource(tmp_path / "hf")
    assert src.is_hf
    assert [(ln.text, ln.boundary) for ln in src.lines()] == [
        ("first doc line one", False), ("line two", False), ("", True), ("second doc", False),
        ("", True)]


def _lines(texts: list[str]) -> list[Line]:
    return [Line(i, t, boundary=(t == "|")) if t == "|" else Line(i, t)
            for i, t in enumerate(texts)]


def test_pack_lines_is_pixels_packing():
    # width = 10 px per character; limit 100: PIXEL flushes when width + line >= limit
    texts = ["aaaa", "bbbb", "cc", "", "dd", "eeeeeeeeeeee", "f", "|", "g"]
    out = list(pack_lines(iter(_lines(texts)), lambda s: 10 * len(s), 100))
    # an overlong line stays alone (and is clipped by the renderer), as in PIXEL
    assert [p.text for p in out] == ["aaaa bbbb", "cc dd", "eeeeeeeeeeee", "f", "g"]
    # resume positions: the overflowing line is not consumed; a document end is
    assert [(p.first_line, p.next_line) for p in out] == [(0, 2), (2, 5), (5, 6), (6, 8),
                                                          (8, 9)]


def test_pack_lines_shard_ownership_breaks_blocks():
    texts = ["a", "b", "c", "d", "e", "f"]
    owned = lambda i: (i // 2) % 2 == 0  # noqa: E731  lines 0,1 and 4,5
    out = list(pack_lines(iter(_lines(texts)), lambda s: 1, 100, owned))
    assert [p.text for p in out] == ["a b", "e f"]


def test_worker_roles_rotate_with_consumed_batches():
    assert worker_roles(3, 0) == [0, 1, 2]
    assert worker_roles(3, 4) == [1, 2, 0]
    assert worker_roles(1, 7) == [0]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    src = data / "wikipedia_en_sample" / "text" / "AA" / "wiki_00.gz"
    out = tmp_path_factory.mktemp("corpus") / "wiki_head.txt"
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        out.write_text("".join(next(fh) for _ in range(600)), "utf-8")
    return out


@pytest.fixture(scope="module")
def pygame_config(fonts: Path):
    from pixel_bench.render import RendererConfig

    return RendererConfig(font_file=str(fonts / "noto" / "NotoSans-Regular.ttf"),
                          max_seq_length=64)


def _ident(enc, rng):
    return {"n": np.int64(enc.num_text_patches), "r": rng.integers(0, 1 << 30)}


def test_packed_corpus_fills_canvas_and_resumes_exactly(corpus_file: Path, pygame_config):
    pytest.importorskip("pygame")
    corpus = PackedCorpus(TextSource(corpus_file), "pygame", pygame_config, _ident,
                          min_text_patches=0, block_lines=50)
    limit = corpus.width_limit
    assert limit == 16 * 64 - 32
    it = corpus.examples(shard=1, num_shards=2, state=ShardState())
    first = [next(it) for _ in range(12)]
    widths = [int(f["n"]) * 16 for f, _ in first]
    assert all(w <= 16 * 63 for w in widths)
    assert max(widths) > limit / 2
    # restart from the state after example 5: the next examples are identical
    state = first[5][1]
    again = corpus.examples(shard=1, num_shards=2, state=state)
    for (want, _), (got, _) in zip(first[6:], (next(again) for _ in range(6))):
        assert int(want["n"]) == int(got["n"]) and int(want["r"]) == int(got["r"])
    # shards own disjoint 50-line blocks
    other = corpus.examples(shard=0, num_shards=2, state=ShardState())
    assert {int(next(other)[0]["r"]) for _ in range(5)}.isdisjoint(
        {int(f["r"]) for f, _ in first})


def test_min_text_patches_too_large_is_a_clear_error(tmp_path: Path, pygame_config):
    pytest.importorskip("pygame")
    small = tmp_path / "small.txt"
    small.write_text("one short line\nand another\n", "utf-8")
    corpus = PackedCorpus(TextSource(small), "pygame", pygame_config, _ident,
                          min_text_patches=10_000, block_lines=50)
    with pytest.raises(DataError, match="too small"):
        next(corpus.examples(0, 1, ShardState()))


def test_unreachable_hub_dataset_is_a_clear_error():
    pytest.importorskip("datasets")
    # tests run with HF_HUB_OFFLINE=1: the hub path fails at once, named in the message
    with pytest.raises(DataError, match="no-such-user/no-such-corpus"):
        TextSource("no-such-user/no-such-corpus").check_not_empty()


def test_render_cache_mode_matches_on_the_fly_and_hits(corpus_file: Path, pygame_config,
                                                       tmp_path: Path, monkeypatch):
    """With the rendered-data cache, blocks are packed alone (same as sharded on-the-fly
    packing for 2 shards); the second pass reads packing and pixels from the cache."""
    pytest.importorskip("pygame")

    def feats(enc, rng):
        return {"px": np.asarray(enc.pixel_values), "n": np.int64(enc.num_text_patches)}

    def take(corpus, n=8):
        it = corpus.examples(1, 2, ShardState())
        return [next(it) for _ in range(n)]

    plain = take(PackedCorpus(TextSource(corpus_file), "pygame", pygame_config, feats,
                              min_text_patches=0, block_lines=50))
    root = str(tmp_path / "cache")
    first = take(PackedCorpus(TextSource(corpus_file), "pygame", pygame_config, feats,
                              min_text_patches=0, block_lines=50, cache_root=root))
    cached = PackedCorpus(TextSource(corpus_file), "pygame", pygame_config, feats,
                          min_text_patches=0, block_lines=50, cache_root=root)
    monkeypatch.setattr(PackedCorpus, "measure", lambda self, t: pytest.fail("measured again"))
    second = take(cached)
    for (a, sa), (b, sb), (c, sc) in zip(plain, first, second):
        assert np.array_equal(a["px"], b["px"]) and np.array_equal(b["px"], c["px"])
        assert sa == sb == sc
    # resume from a position inside a cached block
    again = cached.examples(1, 2, first[3][1])
    assert np.array_equal(next(again)[0]["px"], first[4][0]["px"])


# -- --unescape-html ----------------------------------------------------------------------------
WIKI_ESCAPED = ("<doc id=\"7\" url=\"?curid=7\" title=\"AT&amp;T\">\nAT&amp;T\n\n"
                "Jammu &amp; Kashmir won 3 &lt; 5 &gt; 2.\n"
                "A &quot;quoted&quot; caf&eacute; &amp;amp; &lt;doc id=\"9\"&gt;\n</doc>\n")


def test_unescape_html_off_keeps_text_on_resolves_entities(tmp_path: Path):
    path = tmp_path / "wiki_00"
    path.write_text(WIKI_ESCAPED, "utf-8")
    off = list(TextSource(path).lines())
    on = list(TextSource(path, unescape_html=True).lines())
    assert [ln.text for ln in off] == [
        "", "AT&amp;T", "", "Jammu &amp; Kashmir won 3 &lt; 5 &gt; 2.",
        "A &quot;quoted&quot; caf&eacute; &amp;amp; &lt;doc id=\"9\"&gt;", "", ""]
    assert [ln.text for ln in on] == [
        "", "AT&T", "", "Jammu & Kashmir won 3 < 5 > 2.",
        "A \"quoted\" café &amp; <doc id=\"9\">", "", ""]
    # same positions and document boundaries: the tags are still the (raw) tag lines only;
    # an escaped "&lt;doc" in the text is text, never a boundary
    assert [(ln.index, ln.boundary) for ln in on] == [(ln.index, ln.boundary) for ln in off]
    assert [ln.boundary for ln in on] == [True, False, False, False, False, True, True]
    # the restart position is unchanged
    assert [ln.text for ln in TextSource(path, unescape_html=True).lines(3)][0] == \
        "Jammu & Kashmir won 3 < 5 > 2."


def test_unescape_html_hf_dataset(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ["R&amp;B &lt;3\nplain", "x &gt; y"]})
    ds.save_to_disk(str(tmp_path / "hf"))
    assert [ln.text for ln in TextSource(tmp_path / "hf").lines()] == [
        "R&amp;B &lt;3", "plain", "", "x &gt; y", ""]
    assert [ln.text for ln in TextSource(tmp_path / "hf", unescape_html=True).lines()] == [
        "R&B <3", "plain", "", "x > y", ""]


def test_unescape_html_is_part_of_the_render_cache_key(tmp_path: Path, pygame_config):
    pytest.importorskip("pygame")
    path = tmp_path / "wiki_00"
    path.write_text(WIKI_ESCAPED + "<doc id=\"8\">\nno entity at all here\n</doc>\n", "utf-8")
    root = tmp_path / "cache"

    def corpus(unescape: bool) -> PackedCorpus:
        return PackedCorpus(TextSource(path, unescape_html=unescape), "pygame", pygame_config,
                            _ident, min_text_patches=0, block_lines=4, max_epochs=1,
                            cache_root=str(root))

    off, on = corpus(False), corpus(True)
    # even a block whose text has no entity gets its own key (the setting, not only the text)
    plain = [ln for ln in TextSource(path).lines() if ln.index >= 6]
    assert "no entity at all here" in [ln.text for ln in plain]
    assert off.block_key(plain) != on.block_key(plain)
    assert off.block_key(plain) == corpus(False).block_key(plain)  # stable
    # end to end: a cache filled without unescaping is not reused with it
    n_off = len(list(off.examples(0, 1, ShardState())))
    packing = root / "pretrain-packing"
    keys_off = {p.name for p in packing.glob("*.json")}
    n_on = len(list(on.examples(0, 1, ShardState())))
    keys_on = {p.name for p in packing.glob("*.json")} - keys_off
    assert n_off == n_on and keys_on and len(keys_on) == len(keys_off)
    import json

    def texts(keys):
        return " ".join(row[0] for k in keys for row in json.loads((packing / k).read_text()))

    assert "Jammu &amp; Kashmir" in texts(keys_off) and "Jammu & Kashmir" not in texts(keys_off)
    assert "Jammu & Kashmir won 3 < 5 > 2." in texts(keys_on) and "&amp; Kashmir" not in \
        texts(keys_on)


def test_unescape_html_option_config_key_and_resume_refusal(tmp_path: Path, corpus_file: Path):
    """CLI flag and --config key reach PretrainArgs; a run trained with another setting is not
    resumed (nor is an old checkpoint, which did not unescape, resumed with the flag on)."""
    import json

    from typer.testing import CliRunner

    from pixel_bench.cli.app import app
    from pixel_bench.errors import CheckpointError
    from pixel_bench.train.pretrain import PretrainArgs, check_resume_state

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": "pixar-tiny", "output_dir": str(tmp_path / "o"),
                               "unescape_html": True}))
    assert PretrainArgs.from_file(cfg).unescape_html is True
    assert PretrainArgs.from_file(cfg, unescape_html=False).unescape_html is False
    assert PretrainArgs(model="pixar-tiny", output_dir="o").unescape_html is False

    out = tmp_path / "run"
    ck = out / "checkpoints" / "step-0000001"
    ck.mkdir(parents=True)
    state = {"model": "pixar-tiny", "engine": "torch", "step": 1, "world_size": 1,
             "num_workers": 1, "batch_size": 8, "grad_accum": 1, "args": {}}  # pre-option run
    (ck / "trainer_state.json").write_text(json.dumps(state))
    (out / "checkpoints" / "latest").write_text("step-0000001\n")
    args = PretrainArgs(model="pixar-tiny", output_dir=str(out), engine="torch")
    assert check_resume_state(ck, args, 1)["step"] == 1  # default off: old checkpoints resume
    res = CliRunner().invoke(app, ["pretrain", "--model", "pixar-tiny", "--output-dir", str(out),
                                   "--data", str(corpus_file), "--engine", "torch",
                                   "--unescape-html"])
    assert isinstance(res.exception, CheckpointError), res.output
    assert "unescape_html=False" in str(res.exception) and "--no-unescape-html" in \
        str(res.exception)
    state["args"] = {"unescape_html": True}
    (ck / "trainer_state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="--unescape-html"):
        check_resume_state(ck, args, 1)
    args.unescape_html = True
    assert check_resume_state(ck, args, 1)["step"] == 1
    assert not (out / "metrics.jsonl").exists()  # nothing ran
