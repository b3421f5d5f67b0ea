"""Labelled candidates from benchmark runs, their embeddings, and the task-id splits.

Source: run directories of ``atlas-proxy bench run`` (``run.json`` + ``samples.jsonl``; see
``proxy/bench/records.py``). Each graded sample gives (task id, sample index, extracted code,
passed). The labels come from the graded tests: legitimate *training* data, read here only,
never at request time.

Splits by MBPP task id (Austin et al. 2021): train = the ``prompt`` ids 1-10 and the
``train`` ids 601-974; validation = 511-600 (early stopping and model choice). Everything
else, MBPP's test ids 11-510 and every HumanEval task, is refused for training: it may only
be evaluated on (``lens eval``).

Embeddings: the candidate's code exactly as the harness extracted it (no prompt, no fence),
through ``Backend.embed``, i.e. the mean over all of its tokens of the model's last hidden
state (llama.cpp ``pooling_type=MEAN``). They are cached in an ``.npz`` keyed by the code's
sha256, one cache file per model fingerprint, so re-runs embed only new code.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proxy.backends.base import Backend
from proxy.bench.records import read_config, read_samples

TRAIN_IDS = (range(1, 11), range(601, 975))
VALIDATION_IDS = (range(511, 601),)


class DataError(ValueError):
    pass


@dataclass(frozen=True)
class Candidate:
    task_id: str
    sample: int
    code: str
    passed: bool
    run: str  # the run directory it came from
    arm: str
    temperature: float

    @property
    def sha(self) -> str:
        return code_sha(self.code)


def code_sha(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def split_of(task_id: str) -> str:
    """``train`` | ``validation`` | ``heldout`` (MBPP test ids, HumanEval, anything else)."""
    source, _, num = task_id.rpartition("/")
    if source.lower() == "mbpp" and num.isdigit():
        n = int(num)
        if any(n in r for r in TRAIN_IDS):
            return "train"
        if any(n in r for r in VALIDATION_IDS):
            return "validation"
    return "heldout"


def read_runs(run_dirs: Iterable[Path], *, arms: set[str] | None = None) -> list[Candidate]:
    """Every graded sample with code, from every run directory (in the given order)."""
    out: list[Candidate] = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not (run_dir / "run.json").is_file():
            raise DataError(f"{run_dir}: not a bench run directory (no run.json)")
        config = read_config(run_dir)
        samples = sorted(read_samples(run_dir), key=lambda r: (r.task_id, r.arm, r.sample))
        for rec in samples:
            if arms is not None and rec.arm not in arms:
                continue
            if rec.status != "ok" or rec.grade is None or rec.grade.status == "grader_error":
                continue
            if not rec.code.strip():
                continue
            # The body sent says the temperature; candidates from traces (lens traces) each
            # carry their own, since one request's candidates are sampled at several.
            temp = rec.request.get("temperature")
            out.append(Candidate(task_id=rec.task_id, sample=rec.sample, code=rec.code,
                                 passed=bool(rec.passed), run=str(run_dir), arm=rec.arm,
                                 temperature=float(temp) if isinstance(temp, int | float)
                                 else config.temperature))
    return out


def for_training(cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate], dict]:
    """(train, validation, stats). Raises if any candidate's task is outside both splits:
    HumanEval or MBPP-test data in a training call is a mistake, not something to skip."""
    bad = sorted({c.task_id for c in cands if split_of(c.task_id) == "heldout"})
    if bad:
        raise DataError(
            f"refusing to train: {len(bad)} task(s) outside MBPP train (1-10, 601-974) and "
            f"validation (511-600), e.g. {', '.join(bad[:5])}; evaluate on them with "
            "`atlas-proxy lens eval` instead"
        )
    train, train_stats = dedupe([c for c in cands if split_of(c.task_id) == "train"])
    val, val_stats = dedupe([c for c in cands if split_of(c.task_id) == "validation"])
    return train, val, {"train": train_stats, "validation": val_stats}


def dedupe(cands: list[Candidate]) -> tuple[list[Candidate], dict]:
    """One copy of each (task, code); identical code graded both ways (a flaky test) is
    dropped. Identical samples would otherwise weigh a task's common answer many times."""
    labels: dict[tuple[str, str], set[bool]] = {}
    for c in cands:
        labels.setdefault((c.task_id, c.sha), set()).add(c.passed)
    seen: set[tuple[str, str]] = set()
    out = []
    duplicates = conflicting = 0
    for c in cands:
        key = (c.task_id, c.sha)
        if len(labels[key]) > 1:
            conflicting += 1
        elif key in seen:
            duplicates += 1
        else:
            seen.add(key)
            out.append(c)
    stats = {
        "samples": len(cands),
        "candidates": len(out),
        "duplicates_dropped": duplicates,
        "conflicting_label_samples_dropped": conflicting,
        "passing": sum(c.passed for c in out),
        "tasks": len({c.task_id for c in out}),
        "tasks_mixed": len({c.task_id for c in out if c.passed}
                           & {c.task_id for c in out if not c.passed}),
    }
    return out, stats


class EmbeddingCache:
    """sha256(code) -> embedding, for one model fingerprint, in one ``.npz``."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as data:
                saved_fp = str(data["fingerprint"])
                if saved_fp != fingerprint:
                    raise DataError(f"{self.path}: embeddings of model {saved_fp[:16]}..., "
                                    f"not of {fingerprint[:16]}...")
                for key, vec in zip(data["keys"], data["vectors"]):
                    self._vectors[str(key)] = vec

    @staticmethod
    def default_path(cache_dir: Path, fingerprint: str) -> Path:
        return Path(cache_dir) / f"embeddings-{code_sha(fingerprint)[:16]}.npz"

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: str) -> np.ndarray | None:
        return self._vectors.get(key)

    def put(self, key: str, vector) -> None:  # noqa: ANN001 - any float sequence
        self._vectors[key] = np.asarray(vector, dtype=np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._vectors)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, fingerprint=np.asarray(self.fingerprint), keys=np.asarray(keys),
                     vectors=np.stack([self._vectors[k] for k in keys]) if keys
                     else np.zeros((0, 0), np.float32))
        tmp.replace(self.path)

    async def embed(self, backend: Backend, codes: list[str], *, batch: int = 8,
                    save_every: int = 64, progress: bool = False) -> np.ndarray:
        """Embeddings (n, d) for codes, computing only those not cached yet."""
        todo = list(dict.fromkeys(c for c in codes if code_sha(c) not in self._vectors))
        done_since_save, t0 = 0, time.monotonic()
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            result = await backend.embed(chunk)
            for code, vec in zip(chunk, result.vectors):
                self._vectors[code_sha(code)] = np.asarray(vec, dtype=np.float32)
            done_since_save += len(chunk)
            if done_since_save >= save_every:
                self.save()
                done_since_save = 0
            if progress:
                n = start + len(chunk)
                rate = n / max(time.monotonic() - t0, 1e-9)
                print(f"\rembedded {n}/{len(todo)} ({rate:.1f}/s)", end="", file=sys.stderr)
        if todo:
            self.save()
            if progress:
                print(file=sys.stderr)
        return np.stack([self._vectors[code_sha(c)] for c in codes]) if codes else np.zeros((0, 0))
