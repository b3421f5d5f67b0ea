"""RemoteSandbox: the Sandbox protocol over HTTP to ``atlas-proxy sandbox serve``.

The wire format is the msgspec encoding of the very structs LocalSandbox returns, so the
proxy cannot tell the two apart. Transport failures become ``status=error,
error_type="SandboxUnavailable"`` results: a sandbox outage must not crash a request, and
must not be mistaken for a candidate's own failure either (the type says whose fault it is).
"""

from __future__ import annotations

import time

import httpx
import msgspec

from .types import ExecRequest, ExecResult, Status


class RemoteSandbox:
    def __init__(self, url: str, *, timeout_s: float = 120.0, client: httpx.AsyncClient | None = None):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = client or httpx.AsyncClient(base_url=self.url, timeout=timeout_s)
        self._owns_client = client is None
        self._dec = msgspec.json.Decoder(ExecResult)

    async def run(self, request: ExecRequest) -> ExecResult:
        t0 = time.monotonic()
        try:
            resp = await self._client.post(
                "/execute", content=msgspec.json.encode(request),
                headers={"content-type": "application/json"},
                timeout=self.timeout_s + max(0.0, request.timeout_s),
            )
        except httpx.HTTPError as e:
            return _unavailable(t0, f"sandbox at {self.url} unreachable: {e!r}")
        if resp.status_code != 200:
            return _unavailable(t0, f"sandbox at {self.url} answered {resp.status_code}: {resp.text[:500]}")
        try:
            return self._dec.decode(resp.content)
        except msgspec.ValidationError as e:
            return _unavailable(t0, f"sandbox at {self.url} sent an invalid result: {e}")

    async def languages(self) -> list[str]:
        resp = await self._client.get("/languages")
        resp.raise_for_status()
        return list(resp.json()["languages"])

    async def health(self) -> dict[str, object]:
        resp = await self._client.get("/health")
        resp.raise_for_status()
        return dict(resp.json())

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _unavailable(t0: float, message: str) -> ExecResult:
    return ExecResult(status=Status.ERROR, error_type="SandboxUnavailable", stderr=message,
                      duration_ms=(time.monotonic() - t0) * 1000)
