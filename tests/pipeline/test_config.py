import pytest

from proxy.errors import InvalidRequest
from proxy.pipeline.config import VARIANTS, PipelineConfig, merged


def test_merged_is_a_validated_copy():
    base = PipelineConfig()
    cfg = merged(base, {"k": 3, "plansearch": True, "budget_s": 20})
    assert (cfg.k, cfg.plansearch, cfg.budget_s) == (3, True, 20.0)
    assert base.k == 5 and not base.plansearch  # never mutated
    assert merged(base, None) is base


@pytest.mark.parametrize(
    "overrides,key",
    [
        ({"kk": 1}, "atlas.kk"),
        ({"k": "three"}, "atlas.k"),
        ({"k": 0}, "atlas.k"),
        ({"pass_threshold": 2}, "atlas.pass_threshold"),
        ({"temperature_repair": -1}, "atlas.temperature_repair"),
        ({"trace_file": "/tmp/x"}, "atlas.trace_file"),
        ({"route": "sometimes"}, "atlas.route"),
    ],
)
def test_bad_overrides_name_the_key(overrides, key):
    with pytest.raises(InvalidRequest) as err:
        merged(PipelineConfig(), overrides)
    assert err.value.param == key and key in err.value.message


def test_variants_are_valid_overrides():
    for _, knobs in VARIANTS.values():
        merged(PipelineConfig(), knobs)
    assert not any(name.startswith(("o1", "gpt")) for name in VARIANTS)
