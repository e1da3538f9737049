from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pixel_bench.errors import PixelBenchError, UnknownNameError
from pixel_bench.registry import RENDERERS, Registry, load_plugin_dir


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        RENDERERS.get("pangocario")
    message = str(info.value)
    assert "'pangocairo'" in message and "Did you mean" in message
    assert "binary" in message and "pygame" in message  # the full list of known names


def test_builtin_renderers_are_registered_lazily() -> None:
    assert {"pangocairo", "pygame", "binary"} <= set(RENDERERS.names())


def test_decorator_and_duplicate_detection() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("a", help="first")
    class A:
        pass

    assert reg.get("a") is A
    assert reg.help("a") == "first"
    reg.register("a", A)  # same object again: harmless
    with pytest.raises(PixelBenchError, match="registered twice"):
        reg.register("a", object())
    reg.register("a", int, override=True)
    assert reg.get("a") is int


def test_lazy_target_is_imported_on_first_use() -> None:
    reg: Registry[object] = Registry("thing")
    reg.register_lazy("join", "os.path:join")
    import os.path

    assert reg.get("join") is os.path.join


def test_plugin_directory_registers_like_a_builtin(tmp_path: Path) -> None:
    reg: Registry[object] = Registry("gadget", plugin_dirs=lambda: [tmp_path])
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        import sys
        reg = sys.modules["_test_registry_handle"]
        @reg.register("mine")
        def mine():
            '''A user's own gadget.'''
            return 42
    """))
    import sys

    sys.modules["_test_registry_handle"] = reg  # type: ignore[assignment]
    try:
        assert reg.get("mine")() == 42
        assert reg.help("mine") == "A user's own gadget."
        assert load_plugin_dir(tmp_path)  # importing twice is idempotent
        assert reg.names() == ["mine"]
    finally:
        del sys.modules["_test_registry_handle"]
