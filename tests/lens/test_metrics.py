"""AUC and selection accuracy against values worked out by hand."""

from __future__ import annotations

import pytest

from proxy.lens.metrics import auc, selection, within_task_auc


def test_auc_perfect_and_reversed() -> None:
    # Passing candidates 0.1 and 0.35 both below failing 0.4 and 0.8: 4 of 4 pairs.
    assert auc([0.1, 0.4, 0.35, 0.8], [True, False, True, False]) == 1.0
    assert auc([0.9, 0.4, 0.85, 0.1], [True, False, True, False]) == 0.0


def test_auc_counts_ties_as_half() -> None:
    # pos {0.5, 0.9}, neg {0.5, 0.2}: (0.5, 0.5) tie = 0.5; every other pair lost: 0.5 / 4.
    assert auc([0.5, 0.5, 0.2, 0.9], [True, False, False, True]) == pytest.approx(0.125)


def test_auc_three_of_four() -> None:
    # pos {0.2, 0.6}, neg {0.4, 0.9}: 0.2<0.4, 0.2<0.9, 0.6>0.4 (lost), 0.6<0.9 -> 3/4.
    assert auc([0.2, 0.6, 0.4, 0.9], [True, True, False, False]) == pytest.approx(0.75)


def test_auc_undefined_with_one_class() -> None:
    assert auc([0.1, 0.2], [True, True]) is None
    assert auc([0.1, 0.2], [False, False]) is None


def test_within_task_auc_ignores_cross_task_pairs() -> None:
    # Task a: pass 0.9 vs fail 1.0 (won). Task b: pass 0.1 vs fail 0.05 (lost).
    # Across tasks the global AUC would differ; within-task: 1 of 2 pairs.
    energies = [0.9, 1.0, 0.1, 0.05]
    passed = [True, False, True, False]
    groups = ["a", "a", "b", "b"]
    assert within_task_auc(energies, passed, groups) == pytest.approx(0.5)
    assert auc(energies, passed) == pytest.approx(0.5)  # 0.9<1.0 ok, 0.1<1.0 ok, rest lost
    assert within_task_auc([1, 2], [True, True], ["a", "a"]) is None


def test_selection_by_hand() -> None:
    # Task t1: energies (0.3, 0.1, 0.2), passed (F, T, F). k=2 pools:
    #   {0,1}: lens picks 1 (pass) 1, random .5, first (0) 0
    #   {0,2}: no pass, skipped
    #   {1,2}: lens picks 1 -> 1, random .5, first (1) 1
    #   t1 means: lens 1, random .5, first .5, both pools mixed.
    # Task t2: energies (0.5, 0.4), both pass: one pool, lens 1, random 1, first 1, not mixed.
    energies = [0.3, 0.1, 0.2, 0.5, 0.4]
    passed = [False, True, False, True, True]
    groups = ["t1", "t1", "t1", "t2", "t2"]
    r = selection(energies, passed, groups, k=2)
    assert r["tasks"] == 2
    assert r["lens"] == pytest.approx(1.0)
    assert r["random"] == pytest.approx(0.75)
    assert r["first"] == pytest.approx(0.75)
    assert r["mixed_tasks"] == 1
    assert r["lens_mixed"] == pytest.approx(1.0)
    assert r["random_mixed"] == pytest.approx(0.5)
    assert r["first_mixed"] == pytest.approx(0.5)


def test_selection_whole_task_and_order() -> None:
    # One pool of all three; "first" follows the given order (sample 0 is the last row).
    energies = [0.3, 0.1, 0.2]
    passed = [False, False, True]
    r = selection(energies, passed, ["t", "t", "t"], order=[2, 1, 0], k=None)
    assert r["first"] == 1.0  # sample 0 is row 2, which passes
    assert r["lens"] == 0.0  # lowest energy is row 1, which fails
    assert r["random"] == pytest.approx(1 / 3)


def test_selection_breaks_energy_ties_by_order() -> None:
    r = selection([0.2, 0.2], [False, True], ["t", "t"], order=[1, 0], k=2)
    assert r["lens"] == 1.0  # tie: the earlier candidate (row 1) is picked


def test_selection_tasks_too_small_for_k_are_skipped() -> None:
    r = selection([0.1, 0.2], [True, False], ["t", "t"], k=3)
    assert r["tasks"] == 0 and r["lens"] is None


def test_selection_vs_probe_by_hand() -> None:
    from proxy.lens.metrics import selection_vs_probe

    # Task a: probe fails (E 0.5); others: pass E 0.2, fail E 0.9, pass E 0.7. k=2 pools:
    #   {probe, 0.2 pass}: lens picks the pass -> 1, random .5, probe 0
    #   {probe, 0.9 fail}: no pass, skipped
    #   {probe, 0.7 pass}: lens picks the probe (0.5) -> 0, random .5, probe 0
    # Task b: no probe: skipped.
    energies = [0.5, 0.2, 0.9, 0.7, 0.1, 0.3]
    passed = [False, True, False, True, True, False]
    groups = ["a", "a", "a", "a", "b", "b"]
    probe = [True, False, False, False, False, False]
    r = selection_vs_probe(energies, passed, groups, probe, k=2)
    assert r["tasks"] == 1 and r["mixed_tasks"] == 1
    assert r["lens"] == pytest.approx(0.5)
    assert r["random"] == pytest.approx(0.5)
    assert r["probe"] == pytest.approx(0.0)
