"""Benchmark this service against peer model servers and two Flask references, side by side, in one run.

All servers run at once on loopback; each round loads every server in turn (the order rotates per round),
with ``wrk -t2`` for each workload and connection count. Figures are medians over rounds. Writes
``bench/RESULTS.md`` (or ``--out``) and the raw figures as JSON next to the work folder.

    bench/.venvs/harness/bin/python -m bench.run            # the recorded run (make bench)
    bench/.venvs/harness/bin/python -m bench.run --quick    # smoke run: 1 round, 3 s, 16 connections
    bench/.venvs/harness/bin/python -m bench.run --servers service --baseline main   # this tree against main

``--baseline REV`` checks REV out into a detached git worktree under ``bench/.work/baselines/`` and serves it as
one more server, ``service@REV``, with this tree's settings, models and ``.venv``, interleaved with the current
service in every round; the report gives current / baseline per workload and connection count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import fleet, report
from bench.load import run_wrk, write_script
from bench.payloads import sources, write_payloads

REPO = fleet.REPO
WORK = REPO / "bench" / ".work"
WORKLOADS = tuple(fleet.WORKLOADS)
BASELINES = WORK / "baselines"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="service,floor,naive,pytriton,bentoml,mlserver",
                        help="comma-separated servers (default: all)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VAL[,KEY=VAL]",
                        help="also run this service with extra environment (repeatable), "
                             "e.g. sync:CLASSIFIER_WORKER_CLASS=sync")
    parser.add_argument("--baseline", action="append", default=[], metavar="REV",
                        help="also run this service as it is at git revision REV (repeatable), from a detached "
                             "worktree under bench/.work/baselines/, as server service@REV; the report gives "
                             "current / baseline")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated workloads (default: all of {', '.join(WORKLOADS)})")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="folder with mnist/ and flowers/ (default: models/ if both exist, else stand-ins)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unrecorded load per server and workload")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, 3 s, 16 connections, 1 s warm-up")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=WORK / "results.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.connections, args.warmup = 1, 3.0, "16", 1.0
    args.connections = [int(c) for c in args.connections.split(",")]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown or not args.workloads:
        parser.error(f"--workloads: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(WORKLOADS)}")
    variants = {}
    for item in args.variant:
        name, _, assignments = item.partition(":")
        variants[name] = dict(kv.split("=", 1) for kv in assignments.split(",") if kv)
    args.variants = variants
    if args.baseline and "service" not in args.servers:
        parser.error("--baseline compares the current service with REV: keep 'service' in --servers")
    try:
        args.baselines = resolve_baselines(args.baseline)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def resolve_baselines(revisions: list[str]) -> dict[str, str]:
    """Server name ``service@REV`` -> the full commit REV names in this repository (ValueError when it names none)."""
    resolved: dict[str, str] = {}
    for rev in revisions:
        name = f"service@{rev}"
        if name in resolved:
            raise ValueError(f"--baseline {rev} is given twice")
        out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=REPO,
                             capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            raise ValueError(f"--baseline {rev}: not a commit in this repository ({REPO})")
        resolved[name] = out.stdout.strip()
    return resolved


def checkout_baseline(commit: str) -> Path:
    """A fresh detached worktree of ``commit`` under bench/.work/baselines/ (git's own checkout, no copy by hand)."""
    path = BASELINES / commit[:12]
    remove_baseline(path)
    BASELINES.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), commit], cwd=REPO, check=True)
    return path


def remove_baseline(path: Path) -> None:
    """Remove a baseline worktree and git's record of it (also one left behind by an interrupted run)."""
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True)


def describe_commit(commit: str) -> str:
    out = subprocess.run(["git", "log", "-1", "--format=%h %cs %s", commit], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip()[:120] or commit[:12]


def choose_models(explicit: Path | None) -> tuple[Path, str]:
    """Per model, the real one from models/ when it exists, else a stand-in (built once), so the benchmark runs
    before training has finished; a folder of links under bench/.work/models-used/ holds the mix."""
    if explicit:
        return explicit, f"given: {explicit}"
    standin = WORK / "standin-models"
    if not all((standin / name / "1" / "model.tflite").is_file() for name in ("mnist", "flowers")):
        subprocess.run([str(fleet.MAIN_PY), "-m", "bench.standin", "--out", str(standin)], cwd=REPO, check=True)
    used = WORK / "models-used"
    used.mkdir(parents=True, exist_ok=True)
    notes = []
    for name in ("mnist", "flowers"):
        real = REPO / "models" / name
        link = used / name
        if link.is_symlink() or link.exists():
            link.unlink()
        if any(real.glob("*/manifest.json")):
            link.symlink_to(real)
            notes.append(f"{name}: real model (models/{name})")
        else:
            link.symlink_to(standin / name)
            notes.append(f"{name}: STAND-IN (untrained network of the real input shape, bench/standin.py)")
    return used, "; ".join(notes)


def training_running() -> list[str]:
    out = subprocess.run(["pgrep", "-af", "python -m training|train.py"], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def worker_ready_seconds(log: Path) -> list[float]:
    return [float(m) for m in re.findall(r"ready ([0-9.]+) s after fork", log.read_text(errors="replace"))]


def app_cost(models_dir: Path) -> list[str]:
    """CPU per request inside the app and of the model work alone (bench/app_cost.py, the service's own venv)."""
    cmd = [str(fleet.MAIN_PY), "-m", "bench.app_cost", "--models-dir", str(models_dir), "-n", "1000"]
    out = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "us CPU" in line]


def photo_cost(models_dir: Path) -> list[str]:
    """Decode + preprocessing of a 3 MP and a 12 MP phone JPEG, median CPU on one core (bench/photo_cost.py)."""
    cmd = [str(fleet.MAIN_PY), "-m", "bench.photo_cost", "--models-dir", str(models_dir)]
    out = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "ms CPU" in line]


def note_restart(results: dict, server: fleet.Running, why: str) -> None:
    """Restart a server that stopped mid-run (on a shared machine) and record it in the results."""
    why = " ".join(why.split())
    print(f"  {server.spec.name}: {why}; restarting it", file=sys.stderr, flush=True)
    results.setdefault("restarts", []).append({"server": server.spec.name, "why": why,
                                               "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    server.restart()


def start_with_retry(spec: fleet.ServerSpec, logs: Path, attempts: int = 3) -> fleet.Running:
    """Start a server; retry a failed start (PyTriton's multi-instance handshake sometimes races at load)."""
    for attempt in range(1, attempts + 1):
        try:
            return fleet.start(spec, logs)
        except RuntimeError as exc:
            if attempt == attempts:
                raise
            print(f"  {spec.name} failed to start ({exc}); retrying", file=sys.stderr, flush=True)
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    models_dir, models_note = choose_models(args.models_dir)
    payloads = {w: p for w, p in write_payloads(WORK / "payloads").items() if w in args.workloads}
    stamp = started.strftime("%Y%m%dT%H%M%S")
    logs = WORK / "logs" / stamp
    checkouts: dict[str, Path] = {}
    running: list[fleet.Running] = []
    results: dict = {"servers": {}, "runs": []}
    try:
        for leftover in sorted(BASELINES.glob("*")) if args.baselines else ():  # from an interrupted run
            remove_baseline(leftover)
        for name, commit in args.baselines.items():
            print(f"checking out {name} ({commit[:12]}) ...", file=sys.stderr, flush=True)
            checkouts[name] = checkout_baseline(commit)
        specs = fleet.build_specs(models_dir, payloads, WORK, args.servers, args.variants, checkouts)
        contention = {"before": training_running()}
        in_process = app_cost(models_dir) + photo_cost(models_dir)
        for spec in specs:
            print(f"starting {spec.name} ...", file=sys.stderr, flush=True)
            try:
                server = start_with_retry(spec, logs)
            except RuntimeError as exc:
                results["failed"] = dict(results.get("failed", {}), **{spec.name: str(exc)})
                print(f"  {spec.name} LEFT OUT: {exc}", file=sys.stderr, flush=True)
                continue
            running.append(server)
            answers = {w: spec.answer(w, server.post(w)[1]) for w in args.workloads}
            results["servers"][spec.name] = {"kind": spec.kind, "describe": spec.describe, "port": server.port,
                                             "ready_s": round(server.started_s, 2), "answers": answers}
            if spec.name in args.baselines:
                results["servers"][spec.name]["baseline"] = {
                    "rev": spec.name.partition("@")[2], "commit": args.baselines[spec.name],
                    "describe": describe_commit(args.baselines[spec.name])}
            print(f"  {spec.name} ready in {server.started_s:.1f} s; answers {answers}", file=sys.stderr, flush=True)
        scripts = {(s.spec.name, w): write_script(s.spec.requests[w], WORK / "lua", f"{fleet.slug(s.spec.name)}-{w}")
                   for s in running for w in args.workloads}
        if args.warmup > 0:
            for server in running:
                for w in args.workloads:
                    run_wrk(server.url(w), scripts[server.spec.name, w], 16, args.warmup)
        for rnd in range(args.rounds):
            order = running[rnd % len(running):] + running[: rnd % len(running)]
            for server in order:
                for w in args.workloads:
                    for c in args.connections:
                        if not server.alive():
                            note_restart(results, server, "found stopped before its run")
                        cpu = server.cpu_seconds()
                        try:
                            result = run_wrk(server.url(w), scripts[server.spec.name, w], c, args.duration)
                        except RuntimeError as exc:
                            note_restart(results, server, f"wrk failed: {exc}"[:200])
                            cpu = server.cpu_seconds()
                            result = run_wrk(server.url(w), scripts[server.spec.name, w], c, args.duration)
                        cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(result.requests, 1)
                        results["runs"].append({"round": rnd, "server": server.spec.name, "workload": w,
                                                "connections": c, "cpu_ms": round(cpu_ms, 3), **result.as_dict()})
                        print(f"  round {rnd + 1} {server.spec.name:>10} {w:>11} c{c:<3} {result.rps:8.1f} rps "
                              f"p50 {result.p50_ms:7.2f} ms p99 {result.p99_ms:8.2f} ms err {result.errors} "
                              f"cpu {cpu_ms:.2f} ms/req",
                              file=sys.stderr, flush=True)
                server.rss.append(server.memory())
        for server in running:
            info = results["servers"][server.spec.name]
            info["memory"] = max(server.rss, key=lambda rows: sum(r["rss_mb"] for r in rows)) if server.rss else []
            if server.spec.kind == "service" or server.spec.name == "floor":
                info["worker_ready_s"] = worker_ready_seconds(server.log)
    finally:
        for server in running:
            server.stop()
        for checkout in checkouts.values():
            remove_baseline(checkout)
    contention["after"] = training_running()
    origin = sources()
    results["meta"] = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["bench/.venvs/harness/bin/python -m bench.run",
                             *(argv if argv is not None else sys.argv[1:])]).strip(),
        "models": models_note, "rounds": args.rounds, "duration_s": args.duration,
        "connections": args.connections, "machine": machine(), "contention": contention,
        "workloads": args.workloads,
        "payloads": {w: {"file": p.name, "bytes": p.stat().st_size, "source": origin[w]} for w, p in payloads.items()},
        "in_process": in_process,
    }
    results["summary"] = summarise(results["runs"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    args.out.write_text(report.render(results))
    print(f"wrote {args.out} and {args.json}", file=sys.stderr)


def summarise(runs: list[dict]) -> dict:
    """Median over rounds for each server, workload and connection count."""
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["server"], run["workload"], run["connections"]), []).append(run)
    summary: dict = {}
    for (server, workload, c), rows in groups.items():
        summary.setdefault(server, {}).setdefault(workload, {})[str(c)] = {
            "rps": round(statistics.median(r["rps"] for r in rows), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in rows), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in rows), 2),
            "errors": sum(r["errors"] for r in rows),
            "cpu_ms": round(statistics.median(r["cpu_ms"] for r in rows), 3),
            "requests": sum(r["requests"] for r in rows),
            "rounds_rps": [round(r["rps"], 1) for r in rows],
        }
    return summary


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import psutil

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "?",
            "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}


if __name__ == "__main__":
    main()
