"""Control flow of the pipeline: scripted backend (a fake), real sandbox."""

from __future__ import annotations

import asyncio
import json

import pytest

from proxy.backends.base import ModelInfo
from proxy.errors import InvalidRequest, UpstreamError
from proxy.events import Content, Finish, Reasoning, Trace, Usage
from proxy.openai.protocol import ChatCompletionRequest, CompletionRequest
from proxy.pipeline import Pipeline, PipelineConfig
from proxy.pipeline.generate import FORCE_ANSWER
from proxy.pipeline.prompts import APPROACHES
from tests.pipeline.conftest import ADD_STUB, BAD, GOOD, TESTS, by_stage, fake, stage_of, user


async def collect(pipeline: Pipeline, request: ChatCompletionRequest) -> list:
    return [event async for event in pipeline.run(request, request_id="test")]


def answer(events) -> str:
    return "".join(e.text for e in events if isinstance(e, Content))


def trace(events) -> dict:
    return next(e.data for e in events if isinstance(e, Trace))


def stages(backend) -> list[str]:
    return [stage_of(r) for r in backend.calls]


TRACE = {"trace": True}


async def test_early_exit_when_the_probe_passes_the_prompt_examples(sandbox):
    backend = fake(by_stage({"probe": GOOD}))
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB, atlas=TRACE)
    )
    assert stages(backend) == ["probe"]
    assert "```python\ndef add(a, b):\n    return a + b\n```" in answer(events)
    assert "2/2 of the examples in the prompt" in answer(events)
    # Progress first, then the answer, then finish, then usage, last.
    kinds = [type(e) for e in events]
    assert kinds[0] is Reasoning and kinds.index(Content) > max(
        i for i, k in enumerate(kinds) if k is Reasoning
    )
    assert kinds[-1] is Usage and Finish in kinds
    t = trace(events)
    assert t["early_exit"] and t["chosen"] == 0 and t["calls"] == 1


async def test_all_fail_then_repair_passes(sandbox):
    backend = fake(
        by_stage(
            {
                "probe": BAD,
                "selftests": TESTS,
                "observations": "1. add them up",
                "plans": "1. Use the plus operator.\n2. Sum a list of both values.",
                "candidate": BAD,
                "critique": "It subtracts; it must add.",
                "repair": GOOD,
            }
        )
    )
    events = await collect(
        Pipeline(
            backend,
            sandbox,
            PipelineConfig(k=3, plansearch=True, plain_samples=0, critique=True,
                           repair_probe_first=False),
        ),
        user(ADD_STUB, atlas=TRACE),
    )
    assert stages(backend) == [
        "probe",
        "selftests",
        "observations",
        "plans",
        "candidate",
        "candidate",
        "critique",
        "repair",
    ]
    assert "return a + b" in answer(events)
    t = trace(events)
    assert t["repairs"][0]["result"] == "passes"
    # The repair saw real execution feedback: the failing assert and the value it got.
    assert "assert add(1, 2) == 3  ->  got -1" in t["repairs"][0]["feedback"]
    repair_prompt = backend.calls[-1].messages[-1].text()
    assert "got -1" in repair_prompt and "It subtracts; it must add." in repair_prompt
    # The model test contradicting the prompt's example was dropped.
    assert any("contradicts" in d for d in t["selftests"]["dropped"])
    usage = events[-1]
    assert set(usage.stages) == {"probe", "selftests", "plansearch", "candidates", "repair"}
    assert usage.prompt_tokens == sum(s["prompt_tokens"] for s in usage.stages.values())
    assert usage.completion_tokens == sum(s["completion_tokens"] for s in usage.stages.values())
    assert usage.prompt_tokens == 10 * len(backend.calls)  # the fake books 10 per call


async def test_repair_gives_up_within_its_limits(sandbox):
    wrong = [f"```python\ndef add(a, b):\n    return a - b + {i}\n```" for i in range(1, 10)]
    backend = fake(
        by_stage({"probe": BAD, "selftests": TESTS, "repair": wrong, "critique": "Hmm."})
    )
    cfg = PipelineConfig(plansearch=False)
    events = await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB, atlas=TRACE))
    t = trace(events)
    assert len(t["repairs"]) == 3  # at most 3 distinct repairs
    assert {r["round"] for r in t["repairs"]} == {1, 2}  # in at most 2 rounds
    assert stages(backend).count("repair") == 3
    assert any("repair gave up" in d for d in t["degraded"])
    # Still an answer: the best candidate, code in a fence, no error.
    assert "```python\ndef add(a, b):" in answer(events)
    assert isinstance(events[-1], Usage)


async def test_duplicate_repairs_do_not_count_and_stop(sandbox):
    backend = fake(by_stage({"probe": BAD, "selftests": TESTS, "repair": BAD}))
    cfg = PipelineConfig(plansearch=False, diversity=False, k=1)
    events = await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB, atlas=TRACE))
    repairs = trace(events)["repairs"]
    assert repairs and all(r["result"] == "no distinct code" for r in repairs)
    assert all(r["copies"] == 2 for r in repairs)  # retried once, hotter, then given up
    first, retry = [r.messages[-1].text() for r in backend.calls if stage_of(r) == "repair"][:2]
    assert "This attempt is wrong" in first and "return a - b" in first
    assert "This attempt is wrong" not in retry and "got -1" in retry  # fresh, with feedback
    assert stages(backend).count("repair") <= 2 * cfg.repair_rounds


async def test_token_budget_exhaustion_returns_the_best_so_far(sandbox):
    backend = fake(by_stage({"probe": BAD}))
    cfg = PipelineConfig(budget_tokens=15)  # the probe alone spends more
    events = await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB, atlas=TRACE))
    assert stages(backend) == ["probe"]
    assert "return a - b" in answer(events)
    assert any("token budget" in d for d in trace(events)["degraded"])


async def test_wall_budget_exhaustion_mid_call_still_answers(sandbox):
    backend = fake(by_stage({"probe": GOOD}), delay_s=0.2)  # ~2 s for the probe
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig(budget_s=0.5)), user(ADD_STUB, atlas=TRACE)
    )
    assert isinstance(events[-1], Usage) and any(isinstance(e, Finish) for e in events)
    assert answer(events).strip()
    t = trace(events)
    assert any("wall-time budget" in d for d in t["degraded"]) or t["candidates"][0]["note"]


async def test_disconnect_cancels_the_remaining_work(sandbox):
    backend = fake(by_stage({"probe": BAD, "selftests": TESTS}), delay_s=0.05)
    stream = Pipeline(backend, sandbox, PipelineConfig()).run(user(ADD_STUB), request_id="gone")
    first = await stream.__anext__()
    assert isinstance(first, Reasoning)
    await asyncio.sleep(0.2)  # the probe is generating now
    await stream.aclose()
    assert backend.cancelled >= 1
    leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("atlas-pipeline")]
    assert not leftover
    calls = len(backend.calls)
    await asyncio.sleep(0.3)
    assert len(backend.calls) == calls  # nothing goes on in the background


async def test_non_code_requests_pass_through_even_on_pipeline_ids(sandbox):
    p = Pipeline(fake([]), sandbox, PipelineConfig())
    assert p.wants(user(ADD_STUB))
    assert not p.wants(user("Hello, who are you?"))
    assert not p.wants(user(ADD_STUB, model="scripted-fake"))  # the plain id, default off
    assert not p.wants(user(ADD_STUB, tools=[{"type": "function", "function": {"name": "x"}}]))
    assert p.wants(user("Hello, who are you?", atlas={"route": "always"}))
    assert not p.wants(user(ADD_STUB, atlas={"route": "never"}))
    default = Pipeline(fake([]), sandbox, PipelineConfig(default=True))
    assert default.wants(user(ADD_STUB, model="scripted-fake"))
    assert not default.wants(user("Hi there", model="scripted-fake"))
    assert set(p.variants("m")) == {"atlas", "atlas-fast"}


async def test_per_request_overrides(sandbox):
    p = Pipeline(fake([]), sandbox, PipelineConfig())
    bad = user(ADD_STUB, atlas={"k": "many"})
    assert p.wants(bad)  # so that run() can say what is wrong
    with pytest.raises(InvalidRequest) as err:
        p.run(bad, request_id="x")  # raised synchronously, before any event
    assert err.value.param == "atlas.k"

    backend = fake(by_stage({"probe": BAD}))
    p = Pipeline(backend, sandbox, PipelineConfig())
    atlas = {"k": 1, "selftests": False, "repair": False}
    events = await collect(p, user(ADD_STUB, atlas=atlas))
    assert stages(backend) == ["probe"] and not any(isinstance(e, Trace) for e in events)

    backend = fake(by_stage({"probe": BAD, "selftests": TESTS}))
    await collect(
        Pipeline(backend, sandbox, PipelineConfig()),
        user(ADD_STUB, model="atlas-fast", atlas={"repair": False}),
    )
    # atlas-fast: k = 2, no plans; its one candidate after the probe is a plain sample
    # (plain_samples = 2 by default), the probe's own prompt, so it reads as "probe" here.
    assert stages(backend) == ["probe", "selftests", "probe"]


async def test_backend_errors_degrade_to_the_best_available_answer(sandbox):
    backend = fake(
        by_stage(
            {
                "probe": UpstreamError("boom"),
                "selftests": TESTS,
                "candidate": GOOD,
                "observations": "1. add them up",
                "plans": "1. Use plus directly.",
            }
        )
    )
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB, atlas=TRACE)
    )
    assert "return a + b" in answer(events)
    assert any("UpstreamError" in d for d in trace(events)["degraded"])


async def test_garbage_output_degrades(sandbox):
    backend = fake(
        by_stage(
            {
                "probe": "I am not sure.",
                "selftests": "no tests here",
                "candidate": "",
                "observations": "",
                "plans": "",
                "critique": "",
                "repair": "still nothing",
            }
        )
    )
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB, atlas=TRACE)
    )
    assert answer(events).strip() == "I am not sure."  # the best the model said
    assert any("no code" in d for d in trace(events)["degraded"])


class BrokenSandbox:
    """A sandbox that always fails (a fake, for the degradation path only)."""

    async def run(self, request):
        raise OSError("sandbox is down")


async def test_sandbox_failure_degrades():
    backend = fake(by_stage({"probe": GOOD}))
    cfg = PipelineConfig(selftests=False, k=1)
    events = await collect(Pipeline(backend, BrokenSandbox(), cfg), user(ADD_STUB, atlas=TRACE))
    assert "return a + b" in answer(events)
    assert any("sandbox is down" in d for d in trace(events)["degraded"])


async def test_base_models_get_completion_prompts(sandbox):
    info = ModelInfo(id="base", context_length=2048, has_chat_template=False)

    def script(request):
        assert isinstance(request, CompletionRequest)
        return "    return a + b\n"

    backend = fake(script, info=info)
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB, atlas=TRACE)
    )
    assert backend.calls[0].prompt.startswith("def add(a, b):")  # it continues the stub
    assert "def add(a, b):" in answer(events) and "return a + b" in answer(events)
    assert trace(events)["early_exit"]


async def test_budget_forcing_cuts_long_thinking(sandbox):
    info = ModelInfo(id="thinker", context_length=32768, thinking=("<think>", "</think>"))

    def script(request):
        if request.messages[-1].text() == FORCE_ANSWER:
            return GOOD
        return "<think> " + "hmm " * 3000 + "</think> too late"

    backend = fake(script, info=info)
    cfg = PipelineConfig(thinking_budget="light")
    events = await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB, atlas=TRACE))
    assert backend.cancelled >= 1  # the long thinking was cut off
    forced = backend.calls[1]
    assert forced.messages[-2].role == "assistant" and forced.messages[-2].text().startswith(
        "<think>"
    )
    assert "return a + b" in answer(events)

    # A model without thinking markers: budget forcing is a no-op.
    plain = fake(by_stage({"probe": GOOD}))
    await collect(Pipeline(plain, sandbox, cfg), user(ADD_STUB))
    assert len(plain.calls) == 1 and plain.calls[0].max_tokens == cfg.max_tokens


async def test_inline_thinking_is_removed_from_the_answer(sandbox):
    info = ModelInfo(id="thinker", context_length=32768, thinking=("<think>", "</think>"))
    backend = fake(by_stage({"probe": "<think>short</think>" + GOOD}), info=info)
    events = await collect(Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB))
    assert "<think>" not in answer(events) and "return a + b" in answer(events)


async def test_lens_breaks_ties(sandbox):
    class Scorer:
        def __init__(self):
            self.seen = 0
            self.messages = None

        async def score(self, codes, messages=None):
            self.seen = len(codes)
            self.messages = messages  # an in-context Lens reads the code after the request
            return [1.0 if "a + b" in c else 0.1 for c in codes]

    variants = [
        "```python\ndef add(a, b):\n    return b + a\n```",
        "```python\ndef add(a, b):\n    return sum((a, b))\n```",
    ]
    backend = fake(by_stage({"probe": GOOD, "candidate": variants, "selftests": TESTS}))
    scorer = Scorer()
    cfg = PipelineConfig(k=3, early_exit=False, plansearch=False, plain_samples=0, repair=False)
    events = await collect(Pipeline(backend, sandbox, cfg, scorer), user(ADD_STUB, atlas=TRACE))
    assert scorer.seen == 3
    assert scorer.messages[-1]["role"] == "user" and "def add" in scorer.messages[-1]["content"]
    assert "return b + a" in answer(events)  # lowest energy among equals
    t = trace(events)
    assert t["selection"]["lens"] == "used"
    assert t["timings"]["lens"] >= 0 and t["stages"][-1] == {
        "stage": "lens", "seconds": t["timings"]["lens"], "candidates": 3}


async def test_code_only_answers_only_code(sandbox):
    backend = fake(by_stage({"probe": GOOD}))
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB + "\nReturn only the code.")
    )
    assert answer(events) == "```python\ndef add(a, b):\n    return a + b\n```"


async def test_no_markdown_wish_answers_bare_code(sandbox):
    backend = fake(by_stage({"probe": GOOD}))
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()),
        user(ADD_STUB + "\nAnswer without markdown, no explanations."),
    )
    assert answer(events) == "def add(a, b):\n    return a + b\n"


async def test_trace_file_is_appended_and_failures_do_not_crash(sandbox, tmp_path):
    path = tmp_path / "traces" / "t.jsonl"
    backend = fake(by_stage({"probe": GOOD}))
    await collect(Pipeline(backend, sandbox, PipelineConfig(trace_file=str(path))), user(ADD_STUB))
    line = json.loads(path.read_text().splitlines()[0])
    assert line["request_id"] == "test" and line["candidates"][0]["report"]["passed"] == [
        True,
        True,
    ]
    blocker = tmp_path / "file"
    blocker.write_text("")
    backend = fake(by_stage({"probe": GOOD}))
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig(trace_file=str(blocker / "x.jsonl"))),
        user(ADD_STUB),
    )
    assert "return a + b" in answer(events)


async def test_a_degenerate_loop_is_cut_early(sandbox):
    loop = "```python\ndef add(a, b):\n    return a + b\n" + "# again and again\n" * 400
    backend = fake(by_stage({"probe": loop}))
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig()), user(ADD_STUB, atlas=TRACE)
    )
    assert backend.cancelled == 1  # the stream was closed long before its end
    assert trace(events)["candidates"][0]["finish"] == "repetition"
    assert "return a + b" in answer(events)


async def test_without_prompt_examples_the_self_tests_judge_the_probe(sandbox):
    stub = 'def add(a, b):\n    """Return the sum of a and b."""\n'
    backend = fake(by_stage({"probe": GOOD, "selftests": TESTS}))
    events = await collect(Pipeline(backend, sandbox, PipelineConfig()), user(stub, atlas=TRACE))
    assert stages(backend) == ["probe", "selftests"]  # 2 of 3 model tests pass: >= 0.6
    assert trace(events)["early_exit"] and "return a + b" in answer(events)


async def test_exit_checks_all_also_asks_the_self_tests(sandbox):
    backend = fake(by_stage({"probe": GOOD, "selftests": TESTS}))
    cfg = PipelineConfig(exit_checks="all")
    await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB))
    assert stages(backend) == ["probe", "selftests"]


async def test_a_failing_probe_is_repaired_first(sandbox):
    backend = fake(
        by_stage({"probe": BAD, "selftests": TESTS, "critique": "Use +.", "repair": GOOD})
    )
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig(critique=True)), user(ADD_STUB, atlas=TRACE)
    )
    # One targeted repair with the probe's real feedback, before paying for more candidates.
    assert stages(backend) == ["probe", "selftests", "critique", "repair"]
    assert "return a + b" in answer(events)
    assert trace(events)["repairs"][0]["parent"] == 0


async def test_repair_without_critique_works_from_the_feedback_alone(sandbox):
    backend = fake(
        by_stage({"probe": BAD, "selftests": TESTS, "critique": "Use +.", "repair": GOOD})
    )
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig(critique=True)),
        user(ADD_STUB, atlas={"trace": True, "critique": False}),
    )
    assert stages(backend) == ["probe", "selftests", "repair"]
    assert "return a + b" in answer(events)
    repair_prompt = backend.calls[-1].messages[-1].text()
    assert "got -1" in repair_prompt and "reviewer" not in repair_prompt
    assert trace(events)["repairs"][0]["critique"] == ""


async def test_wall_budget_mid_probe_keeps_the_code_streamed_so_far(sandbox):
    # The code block is complete after ~0.5 s; the budget ends while the model is still
    # explaining. What streamed must be the answer, not an answer without code.
    slow = GOOD + " " + "more words of explanation" * 20
    backend = fake(by_stage({"probe": slow}), delay_s=0.05)
    events = await collect(
        Pipeline(backend, sandbox, PipelineConfig(budget_s=1.0)), user(ADD_STUB, atlas=TRACE)
    )
    assert "return a + b" in answer(events)
    t = trace(events)
    assert t["candidates"][0]["finish"] == "budget"
    assert any("wall-time budget" in d for d in t["degraded"])
    assert t["tokens"]["completion"] > 0  # the cut call's tokens are estimated, not lost


async def test_more_candidates_only_when_nothing_passes_and_stop_at_the_first_pass(sandbox):
    # k = 3: the probe and two approach candidates fail; the second wave's second passes,
    # so its third and fourth are never generated.
    backend = fake(by_stage({"probe": BAD, "selftests": TESTS, "candidate": [BAD, BAD, BAD, GOOD]}))
    cfg = PipelineConfig(k=3, plain_samples=0, repair=False, more_candidates=4)
    events = await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB, atlas=TRACE))
    assert stages(backend) == ["probe", "selftests"] + ["candidate"] * 4
    assert "return a + b" in answer(events)
    # The second wave uses the hints the first did not.
    prompts = [r.messages[-1].text() for r in backend.calls if stage_of(r) == "candidate"]
    assert [APPROACHES[i][:40] in p for i, p in enumerate(prompts)] == [True] * 4
    t = trace(events)
    assert "more_candidates" in t["timings"]
    assert [c["origin"] for c in t["candidates"]][-2:] == ["more", "more"]
    assert "more_candidates" in events[-1].stages  # usage booked under its own stage
    assert any("4 more approaches" in e.text for e in events if isinstance(e, Reasoning))

    # A task the probe solves never pays for it.
    backend = fake(by_stage({"probe": GOOD}))
    await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB))
    assert stages(backend) == ["probe"]

    with pytest.raises(InvalidRequest):
        Pipeline(fake([]), sandbox, PipelineConfig()).run(
            user(ADD_STUB, atlas={"more_candidates": 99}), request_id="x"
        )


async def test_no_second_wave_without_unused_hints(sandbox):
    # Calls are seeded alike: without a new hint a second-wave call would repeat one.
    for cfg in (PipelineConfig(k=3, plain_samples=0, repair=False, diversity=False,
                               more_candidates=4),
                PipelineConfig(k=13, plain_samples=0, repair=False, more_candidates=4)):
        backend = fake(by_stage({"probe": BAD, "selftests": TESTS}))
        events = await collect(Pipeline(backend, sandbox, cfg), user(ADD_STUB, atlas=TRACE))
        assert len(backend.calls) == 2 + (cfg.k - 1)  # probe, self-tests, the first wave
        assert trace(events)["more_candidates"] == {"skipped": "no unused approach hints"}


def test_lens_messages_skip_requests_with_non_text_parts():
    from proxy.openai.protocol import ChatMessage, ContentPart
    from proxy.pipeline import _lens_messages

    text = user(ADD_STUB)
    assert _lens_messages(text) == [{"role": "user", "content": ADD_STUB}]
    image = ContentPart(type="image_url", image_url={"url": "data:image/png;base64,AAAA"})
    mixed = user(ADD_STUB)
    mixed.messages[0] = ChatMessage(role="user", content=[ContentPart(type="text", text=ADD_STUB),
                                                          image])
    assert _lens_messages(mixed) is None  # the request still runs; the Lens reads nothing

