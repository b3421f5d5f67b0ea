"""Benchmark harness: measures arms (plain model, ATLAS pipeline, peers) only through HTTP.

Modules: datasets (tasks, honest request/grading split), grading (code extraction, sandbox),
records (run.json / samples.jsonl structs), runner (client, checkpoint/resume, retries),
metrics (pass@k, intervals, energy, cost), report (Markdown, JSON, PNG), peers (optillm),
cli (``atlas-proxy bench``).
"""
