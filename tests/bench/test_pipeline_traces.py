"""The counterfactual stage ablations of benchmarks/pipeline_traces.py, on a hand-made trace."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import msgspec

from proxy.pipeline.candidate import Candidate
from proxy.pipeline.selftest import CheckReport

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline_traces.py"
_spec = importlib.util.spec_from_file_location("pipeline_traces", _PATH)
pipeline_traces = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pipeline_traces)


def _cand(cid: int, origin: str, passed: list[bool], score: float, passes: bool) -> Candidate:
    report = CheckReport(status="ok", n_examples=1, passed=passed, messages=[""] * len(passed))
    return Candidate(id=cid, origin=origin, code=f"x = {cid}", report=report, score=score,
                     passes=passes, energy=None)


def test_each_row_removes_one_stage():
    cands = [
        _cand(0, "probe", [True, False, False], 0.7, False),  # examples ok, self-tests not
        _cand(1, "approach", [False, True, True], 0.3, False),
        _cand(2, "repair", [True, True, True], 1.0, True),
    ]
    trace = {
        "selection": {"chosen": 2},
        "tokens": {"stages": {"probe": {"prompt_tokens": 10, "completion_tokens": 5},
                              "selftests": {"prompt_tokens": 20, "completion_tokens": 10},
                              "repair": {"prompt_tokens": 100, "completion_tokens": 50}}},
        "timings": {"probe": 1.0, "selftests": 2.0, "first_repair": 4.0, "repair": 8.0,
                    "total": 15.0},
    }
    rows = pipeline_traces.counterfactuals(trace, cands)
    assert rows["as answered"] == (2, 195, 15.0)
    assert rows["no repair"] == (0, 45, 3.0)  # the probe outscores candidate 1
    assert rows["probe only"] == (0, 15, 1.0)
    # On the prompt's example alone the probe and the repair both pass; creation order.
    assert rows["no self-tests"][0] == 0 and rows["no self-tests"][1] == 165
    assert rows["no second wave"] == (2, 195, 15.0)  # there was none


def test_the_second_wave_row_drops_its_candidates_and_their_cost():
    cands = [
        _cand(0, "probe", [False], 0.0, False),
        _cand(1, "approach", [True, False], 0.4, False),
        _cand(2, "more", [True, True], 1.0, True),
    ]
    trace = {
        "selection": {"chosen": 2},
        "tokens": {"stages": {"probe": {"prompt_tokens": 10, "completion_tokens": 5},
                              "candidates": {"prompt_tokens": 10, "completion_tokens": 5},
                              "more_candidates": {"prompt_tokens": 30, "completion_tokens": 20}}},
        "timings": {"probe": 1.0, "candidates": 2.0, "more_candidates": 6.0, "total": 9.0},
    }
    assert pipeline_traces.counterfactuals(trace, cands)["no second wave"] == (1, 30, 3.0)


def test_the_plain_samples_row_drops_them_with_their_own_tokens_and_seconds():
    sample = msgspec.structs.replace(_cand(1, "sample", [True, True], 1.0, True),
                                     tokens=40, seconds=5.0)
    cands = [_cand(0, "probe", [False, True], 0.3, False), sample,
             _cand(2, "approach", [True, False], 0.7, False)]
    trace = {
        "selection": {"chosen": 1},
        "tokens": {"stages": {"probe": {"prompt_tokens": 10, "completion_tokens": 5},
                              "candidates": {"prompt_tokens": 50, "completion_tokens": 30}}},
        "timings": {"probe": 1.0, "candidates": 9.0, "total": 10.0},
    }
    # The plain sample shares the candidates stage with the approach candidate.
    assert pipeline_traces.counterfactuals(trace, cands)["no plain samples"] == (2, 55, 5.0)


def test_the_lens_row_ignores_energies():
    a = msgspec.structs.replace(_cand(0, "probe", [True], 1.0, True), energy=2.0)
    b = msgspec.structs.replace(_cand(1, "approach", [True], 1.0, True), energy=1.0)
    rows = pipeline_traces.counterfactuals({"selection": {"chosen": 1}}, [a, b])
    assert rows["as answered"][0] == 1 and rows["no Lens"][0] == 0


def test_after_the_fact_lens_scores_only_the_top_ties_and_picks_by_energy():
    cands = [
        _cand(0, "probe", [True, False], 0.5, False),
        _cand(1, "approach", [True, True], 1.0, True),
        _cand(2, "approach", [True, True], 1.0, True),
        _cand(3, "approach", [False, False], 0.0, False),
    ]
    assert [c.id for c in pipeline_traces.top_ties(cands)] == [1, 2]
    assert pipeline_traces.top_ties(cands[:2]) == []  # one best: the Lens is not asked
    cands[1].energy, cands[2].energy = 3.0, 1.0  # what AfterTheFactLens.fill would set
    _, chosen, blind = pipeline_traces.choices({"selection": {"chosen": 1}}, cands)
    assert chosen == 2 and blind == 1  # lower energy wins; without it, creation order
