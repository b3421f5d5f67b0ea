"""The candidates stage: plain samples beside approach hints (scripted backend, a fake; real
sandbox)."""

from __future__ import annotations

import pytest

from proxy.errors import InvalidRequest
from proxy.events import Trace
from proxy.pipeline import Pipeline, PipelineConfig
from proxy.pipeline.prompts import APPROACHES
from tests.pipeline.conftest import ADD_STUB, BAD, GOOD, by_stage, fake, stage_of, user


async def _run(backend, sandbox, cfg: PipelineConfig) -> dict:
    events = [e async for e in Pipeline(backend, sandbox, cfg).run(
        user(ADD_STUB, atlas={"trace": True}), request_id="t")]
    return next(e.data for e in events if isinstance(e, Trace))


async def test_plain_samples_resample_the_request_with_their_own_seeds(sandbox):
    # The probe's prompt answers BAD greedily (seed 0) and GOOD at the second seed.
    def script(request):
        if stage_of(request) == "probe":
            return GOOD if request.seed == 2 else BAD
        return BAD

    backend = fake(script)
    cfg = PipelineConfig(k=4, plain_samples=2, repair=False, selftests=False)
    t = await _run(backend, sandbox, cfg)

    probe, *calls = backend.calls
    assert (probe.seed, probe.temperature) == (0, 0.0)
    samples = [r for r in calls if stage_of(r) == "probe"]
    assert [(r.seed, r.temperature) for r in samples] == [(1, 0.8), (2, 0.8)]
    # The same messages as the probe: the user's request as it came.
    assert all(r.messages == probe.messages for r in samples)
    hinted = [r for r in calls if stage_of(r) == "candidate"]
    assert len(hinted) == 1 and APPROACHES[0] in hinted[0].messages[-1].text()
    assert [(c["origin"], c["label"]) for c in t["candidates"]] == [
        ("probe", "greedy"), ("sample", "plain sample, seed 1"),
        ("sample", "plain sample, seed 2"), ("approach", APPROACHES[0])]
    assert t["chosen"] == 2  # the passing plain sample


async def test_plain_samples_leave_the_hints_to_the_second_wave(sandbox):
    # Hints the first wave did not use are still there for more_candidates.
    backend = fake(by_stage({"probe": BAD, "candidate": BAD}))
    cfg = PipelineConfig(k=3, plain_samples=2, repair=False, selftests=False,
                         more_candidates=2)
    t = await _run(backend, sandbox, cfg)
    assert [c["origin"] for c in t["candidates"]] == ["probe", "sample", "sample", "more",
                                                      "more"]
    assert [c["label"] for c in t["candidates"][3:]] == list(APPROACHES[:2])


async def test_plain_samples_take_the_place_of_plans(sandbox):
    backend = fake(by_stage({"probe": BAD, "plans": "1. Use plus.\n2. Use sum().",
                             "observations": "1. add", "candidate": GOOD}))
    cfg = PipelineConfig(k=3, plain_samples=2, plansearch=True, repair=False,
                         selftests=False)
    t = await _run(backend, sandbox, cfg)
    # Every slot after the probe is a plain sample: no plans are asked for.
    assert "plans" not in [stage_of(r) for r in backend.calls]
    assert [c["origin"] for c in t["candidates"]] == ["probe", "sample", "sample"]


def test_plain_samples_are_validated(sandbox):
    with pytest.raises(InvalidRequest) as err:
        Pipeline(fake(by_stage({})), sandbox, PipelineConfig()).run(
            user(ADD_STUB, atlas={"plain_samples": 99}), request_id="x")
    assert err.value.param == "atlas.plain_samples"
