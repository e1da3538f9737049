"""The Team-PIXEL model entries: hub ids, sizes, the renderer each reads, the parsing head."""

from __future__ import annotations

import pytest

from pixel_bench.errors import ConfigError
from pixel_bench.modeling.adapter import HeadSpec, TaskKind
from pixel_bench.registry import MODELS

HUB = {"pixel-small": "Team-PIXEL/pixel-small-continuous",
       "pixel-tiny-bigrams": "Team-PIXEL/pixel-tiny-bigrams",
       "pixel-small-bigrams": "Team-PIXEL/pixel-small-bigrams",
       "pixel-base-bigrams": "Team-PIXEL/pixel-base-bigrams",
       "pixel-m4": "Team-PIXEL/pixel-m4"}


@pytest.mark.parametrize("name", sorted(HUB))
def test_entries(name: str) -> None:
    adapter = MODELS.get(name)
    assert adapter.card.hub_id == HUB[name] and adapter.card.family == "pixel"
    assert adapter.card.size != "tiny"  # "tiny" means random init without weights in the runner
    kind = TaskKind.TOKEN_CLASSIFICATION
    own, cfg = adapter.renderer_config(kind, max_seq_length=256)
    assert cfg.max_seq_length == 256 and cfg.pixels_per_patch == 16
    if name.endswith("bigrams") or name == "pixel-m4":
        assert own == "pangocairo-bigrams"
        with pytest.raises(ConfigError, match="pretrained with the pangocairo-bigrams"):
            adapter.renderer_config(kind, renderer="pangocairo")
    else:
        assert own == "pangocairo"
        assert adapter.renderer_config(kind, renderer="pangocairo-bigrams")[0] == \
            "pangocairo-bigrams"


def test_small_layout_from_scratch_with_parsing_head() -> None:
    model = MODELS.get("pixel-small").build(
        HeadSpec(kind=TaskKind.DEPENDENCY_PARSING, num_labels=38), from_scratch=True,
        max_seq_length=16)
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads,
            cfg.intermediate_size) == (384, 12, 6, 1536)
    assert cfg.pad_token_id == -100 and model.biaffine_rels.weight.shape == (38, 385, 385)
    assert type(model).__name__ == "PIXELForBiaffineParsing"


def test_recipe_renderer_falls_back_to_the_bigrams_models_own() -> None:
    from pixel_bench.spec import choose_renderer, resolve_spec

    spec = resolve_spec("pixel-m4", "pos-ko_gsd", from_scratch=True)
    assert spec.recipe["renderer"] == "pangocairo"  # pos.yaml
    choice = choose_renderer(spec)
    assert choice.name == "pangocairo-bigrams" and "pixel-m4" in choice.note
    assert "renderer_note" not in spec.recipe  # the recipe is never written to
