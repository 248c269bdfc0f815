"""Drive one server with Debian's ``wrk`` and read back requests/s, p50, p99 and errors.

The request (method, headers, body) is written to a Lua script; wrk's ``done`` hook prints one JSON line,
so nothing is scraped from wrk's human-readable report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_LUA = """\
local f = assert(io.open({body!r}, "rb"))
wrk.body = f:read("*all")
f:close()
wrk.method = "POST"
{headers}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class Request:
    """One benchmark request: path (with query), headers and the exact body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors + non-2xx/3xx answers

    def as_dict(self) -> dict[str, float | int]:
        return {"rps": self.rps, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "requests": self.requests,
                "errors": self.errors}


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench installs it)")
    return path


def write_script(request: Request, directory: Path, name: str) -> Path:
    """Write the body and a Lua script that posts it; returns the script path."""
    directory.mkdir(parents=True, exist_ok=True)
    body = directory / f"{name}.body"
    body.write_bytes(request.body)
    headers = "\n".join(f'wrk.headers[{k!r}] = {v!r}' for k, v in request.headers.items())
    script = directory / f"{name}.lua"
    script.write_text(_LUA.format(body=str(body), headers=headers))
    return script


def run_wrk(url: str, script: Path, connections: int, seconds: float, threads: int = 2) -> LoadResult:
    """Run wrk once against ``url`` and parse its JSON line."""
    cmd = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
           "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            raw = json.loads(line[len("BENCHJSON "):])
            errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
            return LoadResult(rps=raw["requests"] / (raw["duration_us"] / 1e6), p50_ms=raw["p50_us"] / 1000,
                              p99_ms=raw["p99_us"] / 1000, requests=raw["requests"], errors=errors)
    raise RuntimeError(f"wrk gave no result for {url}: {out.stdout[-500:]} {out.stderr[-500:]}")
