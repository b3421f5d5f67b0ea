"""The structs a benchmark run writes: run.json (what was asked) and samples.jsonl (what came
back, one line per arm x task x sample). Reports are computed from these two files only."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from .grading import Grade

RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"


class Arm(msgspec.Struct, frozen=True, kw_only=True):
    """One way of answering: an endpoint, a model id and extra request-body fields."""

    name: str
    base_url: str
    model: str
    extra: dict[str, Any] = {}
    # Name of an environment variable holding the API key; the key itself is never stored.
    key_env: str | None = None


_ARM_KEYS = ("model", "extra", "key_env")


def parse_arm(spec: str) -> Arm:
    """``name=URL,model=ID[,extra=JSON][,key_env=VAR]``. Split only at commas followed by a
    known key, so the JSON in ``extra`` may contain commas."""
    parts = re.split(rf",(?=(?:{'|'.join(_ARM_KEYS)})=)", spec.strip())
    head, _, url = parts[0].partition("=")
    if not head or not url:
        raise ValueError(f"arm {spec!r}: expected name=URL,model=ID[,extra=JSON]")
    fields: dict[str, Any] = {"name": head.strip(), "base_url": url.strip().rstrip("/")}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key == "extra":
            try:
                fields["extra"] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"arm {head!r}: extra is not JSON: {exc}") from exc
            if not isinstance(fields["extra"], dict):
                raise ValueError(f"arm {head!r}: extra must be a JSON object")
        else:
            fields[key] = value.strip()
    if not fields.get("model"):
        raise ValueError(f"arm {spec!r}: model=ID is required")
    if not re.fullmatch(r"[\w.+-]+", fields["name"]):
        raise ValueError(f"arm name {fields['name']!r}: use letters, digits, . _ + -")
    return Arm(**fields)


class RunConfig(msgspec.Struct, frozen=True, kw_only=True):
    dataset: str  # as given: humaneval | mbpp | a path
    dataset_path: str
    dataset_sha256: str
    split: str | None
    task_ids: list[str]
    n: int
    temperature: float
    seed: int
    max_tokens: int
    arms: list[Arm]  # the first is the baseline
    prompt_templates: dict[str, str]
    concurrency: int = 1
    timeout_s: float = 600.0
    retries: int = 3
    watts: float = 65.0
    kwh_price: float = 0.15
    prices: dict[str, tuple[float, float]] = {}
    ks: list[int] = []
    argv: list[str] = []  # the bench arguments, so the report can print the exact command
    invocation: str = ""  # a wrapper script's own command line, when one started the run
    created: str = ""
    harness_version: int = 1

    def identity(self) -> dict[str, Any]:
        """The fields that define the experiment: a resumed run must match them exactly."""
        keys = ("dataset_sha256", "split", "task_ids", "n", "temperature", "seed",
                "max_tokens", "arms", "prompt_templates", "harness_version")
        return {k: msgspec.to_builtins(getattr(self, k)) for k in keys}


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class SampleRecord(msgspec.Struct, frozen=True, kw_only=True):
    arm: str
    task_id: str
    sample: int
    # ok: an answer came back and was graded; crash: no answer after ``attempts`` tries.
    status: str
    passed: bool
    attempts: int
    started_at: float  # unix time the final attempt started
    latency_s: float  # wall time of the final attempt, as the client saw it
    request: dict[str, Any]  # the body sent (minus nothing: it holds no credentials)
    error: str | None = None
    http_status: int | None = None
    response_model: str | None = None
    finish_reason: str | None = None
    usage: Usage = Usage()
    usage_raw: dict[str, Any] | None = None  # the endpoint's usage object verbatim (stages etc.)
    answer: str = ""
    code: str = ""
    grade: Grade | None = None
    # The pipeline's per-request trace (``atlas_trace``), stored verbatim for the Lens.
    atlas_trace: Any = None
    session: int = 0  # which run invocation wrote it, counting those that wrote samples (0 = first)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.arm, self.task_id, self.sample)


def read_config(run_dir: Path) -> RunConfig:
    return msgspec.json.decode((run_dir / RUN_FILE).read_bytes(), type=RunConfig)


def write_config(run_dir: Path, config: RunConfig) -> None:
    (run_dir / RUN_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(config)) + b"\n")


def read_samples(run_dir: Path, *, repair: bool = False) -> list[SampleRecord]:
    """All complete records, the last one per key winning. A run killed mid-write leaves a
    partial last line: it is skipped, and with ``repair`` cut off so appends start clean."""
    path = run_dir / SAMPLES_FILE
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data = data[:cut]
        if repair:
            with path.open("r+b") as fh:
                fh.truncate(cut)
    latest: dict[tuple[str, str, int], SampleRecord] = {}
    decoder = msgspec.json.Decoder(SampleRecord)
    for line in data.splitlines():
        if line.strip():
            rec = decoder.decode(line)
            latest[rec.key] = rec
    return list(latest.values())


def run_and_arm(spec: str) -> tuple[Path, str]:
    """``RUN`` or ``RUN:ARM`` -> (run directory, arm name). A run with several arms needs the
    arm named: mixing a plain arm's answers with a pipeline's would measure neither. Raises
    ``ValueError`` naming the choices."""
    run_dir, _, arm = spec.partition(":") if not Path(spec).is_dir() else (spec, "", "")
    names = [a.name for a in read_config(Path(run_dir)).arms]
    if not arm and len(names) > 1:
        raise ValueError(f"{run_dir} has arms {names}: name one as {run_dir}:ARM")
    arm = arm or names[0]
    if arm not in names:
        raise ValueError(f"{run_dir} has no arm {arm!r} (it has {names})")
    return Path(run_dir), arm
