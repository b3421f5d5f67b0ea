"""The runner through the CLI, as a user runs it: arms, checkpoint/resume, retries, crashes,
traces, report. The endpoint is the scripted server (to produce errors and known grades);
grading runs in the real sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.bench.cli import main
from proxy.bench.datasets import load_tasks
from proxy.bench.records import parse_arm, read_config, read_samples

from .scripted_server import DROP, Reply, ScriptedServer, completion

ROOT = Path(__file__).resolve().parents[2]
HE3 = "HumanEval/0,HumanEval/2,HumanEval/10"
WRONG = "```python\ndef nothing():\n    return None\n```"


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def make(respond: Callable[[dict[str, Any], int], Reply | str]) -> ScriptedServer:
        servers.append(ScriptedServer(respond))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _task_of(body: dict[str, Any]) -> str:
    by_content = {t.messages[0]["content"]: t.task_id for t in load_tasks("humaneval")}
    return by_content[body["messages"][0]["content"]]


def _run(out: Path, *args: str) -> int:
    return main(["run", "--no-progress", "--out", str(out), "--backoff", "0.01", *args])


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def test_two_arms_in_one_run(tmp_path: Path, scripted, answer_for_request) -> None:
    trace = {"candidates": [{"code": "x = 1", "selftest": {"passed": 1, "total": 2}}], "chosen": 0}

    def respond(body: dict[str, Any], _: int) -> Reply:
        if body["model"] == "atlas":
            assert body["atlas"] == {"trace": True}
            return Reply(body=completion(WRONG, model="atlas", atlas_trace=trace))
        return Reply(body=completion(answer_for_request(body), model="plain-model"))

    server = scripted(respond)
    out = tmp_path / "run"
    rc = _run(out, "--task-ids", HE3, "--max-tokens", "300", "--seed", "5",
              "--arm", f"plain={server.base_url},model=plain-model",
              "--arm", f'atlas={server.base_url},model=atlas,extra={{"atlas": {{"trace": true}}}}')
    assert rc == 0
    # Interleaved per task: plain then atlas, same seed for both.
    assert [(b["model"], _task_of(b)) for b in server.requests] == [
        (m, t) for t in HE3.split(",") for m in ("plain-model", "atlas")]
    assert all(b["seed"] == 5 and b["max_tokens"] == 300 and b["temperature"] == 0 for b in server.requests)
    recs = {(r.arm, r.task_id): r for r in read_samples(out)}
    assert len(recs) == 6
    assert all(recs["plain", t].passed for t in HE3.split(","))
    assert not any(recs["atlas", t].passed for t in HE3.split(","))
    assert recs["atlas", "HumanEval/0"].atlas_trace == trace  # verbatim, for the Lens
    assert recs["plain", "HumanEval/0"].atlas_trace is None
    assert recs["plain", "HumanEval/0"].usage.prompt_tokens == 11
    # What was sent is exactly the user-visible request.
    task = load_tasks("humaneval")[0]
    assert recs["plain", "HumanEval/0"].request["messages"] == task.messages

    res = json.loads((out / "results.json").read_text())
    assert res["arms"]["plain"]["pass_at_k"][0]["value"] == 1.0
    assert res["arms"]["atlas"]["pass_at_k"][0]["value"] == 0.0
    assert res["paired"]["atlas"][0]["delta"] == -1.0
    report = (out / "report.md").read_text()
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Run health"
    assert "## pass@k (95% CI)" in sections and "## Cloud cost comparison" in sections
    assert "Energy is an estimate" in report
    for png in ("pass_at_k.png", "latency.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_config(out).argv[0] == "run"


def test_retries_backoff_and_crashes(tmp_path: Path, scripted, answer_for_request) -> None:
    calls: dict[str, int] = {}

    def respond(body: dict[str, Any], _: int) -> Reply | str:
        task = _task_of(body)
        calls[task] = calls.get(task, 0) + 1
        if task == "HumanEval/0" and calls[task] <= 2:
            return Reply(status=500)
        if task == "HumanEval/2":
            return Reply(status=503)  # every time: 3 strikes
        if task == "HumanEval/10" and calls[task] == 1:
            return DROP
        return Reply(body=completion(answer_for_request(body)))

    server = scripted(respond)
    out = tmp_path / "run"
    assert _run(out, "--task-ids", HE3, "--arm", f"plain={server.base_url},model=m") == 0
    recs = {r.task_id: r for r in read_samples(out)}
    assert (recs["HumanEval/0"].status, recs["HumanEval/0"].attempts, recs["HumanEval/0"].passed) == ("ok", 3, True)
    assert (recs["HumanEval/10"].status, recs["HumanEval/10"].attempts, recs["HumanEval/10"].passed) == ("ok", 2, True)
    crash = recs["HumanEval/2"]
    assert (crash.status, crash.attempts, crash.passed, crash.http_status) == ("crash", 3, False, 503)
    res = json.loads((out / "results.json").read_text())
    health = res["arms"]["plain"]["health"]
    assert health["crashes"] == 1 and health["retried"] == 3 and health["missing"] == 0
    assert res["arms"]["plain"]["pass_at_k"][0]["value"] == pytest.approx(2 / 3)  # crash = fail
    assert "crash `HTTP 503" in (out / "report.md").read_text()


def test_client_errors_are_not_retried(tmp_path: Path, scripted) -> None:
    server = scripted(lambda body, n: Reply(status=400, body={"error": {"message": "bad model"}}))
    out = tmp_path / "run"
    assert _run(out, "--task-ids", "HumanEval/0", "--arm", f"plain={server.base_url},model=nope") == 0
    (rec,) = read_samples(out)
    assert (rec.status, rec.attempts) == ("crash", 1) and "bad model" in rec.error
    assert len(server.requests) == 1


def test_resume_after_a_killed_run(tmp_path: Path, scripted, answer_for_request) -> None:
    """Kill -9 the run while its third request is in flight; the same command then finishes
    the run without asking again for what is on disk."""
    release = threading.Event()

    def respond(body: dict[str, Any], count: int) -> Reply:
        return Reply(body=completion(answer_for_request(body)), hang=release if count == 3 else None)

    server = scripted(respond)
    out = tmp_path / "run"
    ids = "HumanEval/0,HumanEval/2,HumanEval/10,HumanEval/12"
    args = ["run", "--no-progress", "--out", str(out), "--task-ids", ids,
            "--arm", f"plain={server.base_url},model=m"]
    proc = subprocess.Popen([sys.executable, "-m", "proxy.bench.cli", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert server.wait_for_requests(3, timeout=120), proc.stderr.read() if proc.poll() is not None else ""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    release.set()
    before = (out / "samples.jsonl").read_bytes()
    assert [r["task_id"] for r in _lines(out)] == ["HumanEval/0", "HumanEval/2"]
    assert not (out / "report.md").exists()

    assert main(args) == 0
    after = (out / "samples.jsonl").read_bytes()
    assert after.startswith(before)  # what was on disk is kept as it was
    recs = _lines(out)
    assert [r["task_id"] for r in recs] == ids.split(",")
    assert [r["session"] for r in recs] == [0, 0, 1, 1]
    assert all(r["passed"] for r in recs)
    # 3 requests in the killed session, then only the 2 samples not on disk.
    assert [_task_of(b) for b in server.requests] == ids.split(",")[:3] + ids.split(",")[2:]
    assert "1 resume(s)" in (out / "report.md").read_text()


def test_a_half_written_last_line_is_dropped_and_redone(tmp_path: Path, scripted, answer_for_request) -> None:
    server = scripted(lambda body, n: Reply(body=completion(answer_for_request(body))))
    out = tmp_path / "run"
    args = ("--task-ids", "HumanEval/0,HumanEval/2", "--arm", f"plain={server.base_url},model=m")
    assert _run(out, *args) == 0
    data = (out / "samples.jsonl").read_bytes()
    first_end = data.index(b"\n") + 1
    (out / "samples.jsonl").write_bytes(data[: first_end + 40])  # killed mid-write
    assert len(read_samples(out)) == 1
    assert _run(out, *args) == 0
    assert [r["task_id"] for r in _lines(out)] == ["HumanEval/0", "HumanEval/2"]
    assert len(server.requests) == 3


def test_a_different_run_in_the_same_directory_is_refused(tmp_path: Path, scripted, answer_for_request) -> None:
    server = scripted(lambda body, n: Reply(body=completion(answer_for_request(body))))
    out = tmp_path / "run"
    base = ("--task-ids", "HumanEval/0", "--arm", f"plain={server.base_url},model=m")
    assert _run(out, *base) == 0
    assert _run(out, *base, "--temperature", "0.8") == 2
    assert _run(out, *base, "--task-ids", "HumanEval/2") == 2
    assert len(server.requests) == 1


def test_retry_crashes_on_resume(tmp_path: Path, scripted, answer_for_request) -> None:
    state = {"down": True}
    server = scripted(lambda body, n: Reply(status=502) if state["down"]
                      else Reply(body=completion(answer_for_request(body))))
    out = tmp_path / "run"
    args = ("--task-ids", "HumanEval/0", "--arm", f"plain={server.base_url},model=m")
    assert _run(out, *args) == 0
    assert read_samples(out)[0].status == "crash"
    state["down"] = False
    assert _run(out, *args) == 0  # a plain resume keeps the recorded crash
    assert read_samples(out)[0].status == "crash"
    assert _run(out, *args, "--retry-crashes") == 0
    (rec,) = read_samples(out)
    # The plain resume had nothing to do and wrote nothing, so this is the second session.
    assert rec.status == "ok" and rec.passed and rec.session == 1


def test_report_rerenders_the_same_numbers(tmp_path: Path, scripted, answer_for_request) -> None:
    server = scripted(lambda body, n: Reply(body=completion(
        answer_for_request(body) if n % 2 else WRONG, prompt_tokens=100, completion_tokens=50)))
    out = tmp_path / "run"
    assert _run(out, "--task-ids", HE3, "--n", "2", "--temperature", "0.7",
                "--arm", f"plain={server.base_url},model=m", "--watts", "50") == 0
    first = json.loads((out / "results.json").read_text())
    assert first["arms"]["plain"]["pass_at_k"][0]["value"] == 0.5
    assert [p["k"] for p in first["arms"]["plain"]["pass_at_k"]] == [1, 2]
    assert first["arms"]["plain"]["pass_at_k"][1]["value"] == 1.0
    (out / "results.json").unlink()
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    again = json.loads((out / "results.json").read_text())
    for d in (first, again):
        d.pop("generated")
    assert again == first
    assert (out / "report.md").exists()
    # Energy and cost are re-priced at report time without touching the samples.
    assert main(["report", str(out), "--watts", "100"]) == 0
    doubled = json.loads((out / "results.json").read_text())
    assert doubled["arms"]["plain"]["energy_wh"] == pytest.approx(2 * first["arms"]["plain"]["energy_wh"])


def test_default_arms_resolve_the_plain_model(tmp_path: Path, scripted, answer_for_request) -> None:
    server = scripted(lambda body, n: Reply(body=completion(answer_for_request(body))))
    out = tmp_path / "run"
    assert _run(out, "--task-ids", "HumanEval/0", "--url", server.base_url) == 0
    cfg = read_config(out)
    assert [(a.name, a.model, a.extra) for a in cfg.arms] == [
        ("plain", "plain-model", {}), ("atlas", "atlas", {"atlas": {"trace": True}})]


def test_concurrency(tmp_path: Path, scripted, answer_for_request) -> None:
    server = scripted(lambda body, n: Reply(body=completion(answer_for_request(body))))
    out = tmp_path / "run"
    assert _run(out, "--task-ids", HE3 + ",HumanEval/12", "--concurrency", "3",
                "--arm", f"plain={server.base_url},model=m") == 0
    recs = read_samples(out)
    assert len(recs) == 4 == len(_lines(out)) and all(r.passed for r in recs)


def test_mbpp_through_the_runner(tmp_path: Path, scripted, answer_for_request) -> None:
    server = scripted(lambda body, n: Reply(body=completion(answer_for_request(body))))
    out = tmp_path / "run"
    assert _run(out, "--dataset", "mbpp", "--tasks", "3", "--arm", f"plain={server.base_url},model=m") == 0
    recs = read_samples(out)
    assert len(recs) == 3 and all(r.passed and r.task_id.startswith("MBPP/") for r in recs)
    assert read_config(out).split == "validation"
    for r in recs:  # only the first assert went out
        assert r.request["messages"][0]["content"].count("assert ") == 1


@pytest.mark.parametrize(("spec", "expected"), [
    ("a=http://h:1/v1,model=m", ("a", "http://h:1/v1", "m", {}, None)),
    ("a=http://h:1/v1/,model=m,key_env=KEY", ("a", "http://h:1/v1", "m", {}, "KEY")),
    ('b=http://h/v1,model=x-y,extra={"atlas": {"trace": true}, "top_p": 0.9}',
     ("b", "http://h/v1", "x-y", {"atlas": {"trace": True}, "top_p": 0.9}, None)),
])
def test_parse_arm(spec: str, expected: tuple) -> None:
    a = parse_arm(spec)
    assert (a.name, a.base_url, a.model, a.extra, a.key_env) == expected


@pytest.mark.parametrize("spec", ["a", "a=http://h", "a=http://h,model=m,extra=[1]",
                                  "a=http://h,model=m,extra={bad", "a b=http://h,model=m"])
def test_parse_arm_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_arm(spec)
