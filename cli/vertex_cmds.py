"""The Vertex AI backend of ``attune tune`` and ``attune generate`` (issue 15).

``cli/tune_cmds.py`` and ``cli/generate_cmds.py`` own the commands; they hand
``--backend vertex`` and ``--system gemini:M | vertex:JOB | tuned:JOB`` to the
handlers here. Every handler that sends text builds the egress manifest,
prints it and asks (``cli.egress_cmds.confirm``) before anything leaves.
"""

from __future__ import annotations

import argparse
import sys

from cli.common import store_from_args, terminal_progress
from cli.egress_cmds import add_confirm_args, confirm
from core.errors import UsageError
from core.store import Store


def is_vertex_system(spec: str) -> bool:
    return spec.split(":", 1)[0] in ("gemini", "vertex", "tuned")


def add_tune_args(p: argparse.ArgumentParser) -> None:
    """Options of ``tune start`` / ``tune preflight`` that only the Vertex backend reads."""
    p.add_argument("--adapter-size", default="ADAPTER_SIZE_FOUR", help="Vertex adapter size (default FOUR)")
    p.add_argument("--lr-multiplier", type=float, default=1.0, help="learning-rate multiplier (default 1.0)")
    p.add_argument("--display-name", default="", help="tuned model display name (default attune-DATASET)")
    p.add_argument("--price", type=float, default=None, metavar="USD",
                   help="price per million training tokens to keep and use for the estimate")
    p.add_argument("--price-date", default="", metavar="DATE", help="when --price was listed")
    p.add_argument("--exact", action="store_true",
                   help="preflight: exact token counts from Vertex AI (sends the text: asks first)")
    add_confirm_args(p)


def _settings(args: argparse.Namespace):
    from core.tuning import vertex

    return vertex.TuneSettings(
        base_model=getattr(args, "base_model", None) or vertex.DEFAULT_BASE_MODEL,
        epochs=getattr(args, "epochs", None) or 3,
        adapter_size=getattr(args, "adapter_size", "ADAPTER_SIZE_FOUR"),
        learning_rate_multiplier=getattr(args, "lr_multiplier", 1.0),
        display_name=getattr(args, "display_name", ""),
    ).check()


def tune_preflight(args: argparse.Namespace) -> int:
    from core import gemini_connection as gconn
    from core.tuning import vertex

    settings = _settings(args)
    with store_from_args(args) as store:
        if getattr(args, "price", None) is not None:
            vertex.set_price(store, settings.base_model, args.price, args.price_date or "set by the user")
        conn = gconn.load(store)
        destination = vertex.destination(conn, settings.base_model) if conn.project and conn.bucket else None
        from core import egress

        manifest = egress.upload_manifest(store, args.dataset, destination or egress.Destination("vertex"))
        exact = None
        if getattr(args, "exact", False):
            if destination is None:
                raise UsageError("--exact counts tokens on Vertex AI: run `attune connect` first")
            exact = vertex.count_tokens(store, confirm(manifest, args), conn)
        report = vertex.preflight(store, manifest, settings, exact)
    for line in report.lines():
        print(line)
    print(f"identifier scan: {', '.join(f'{k} {n}' for k, n in manifest.counts().items())}")
    if destination is None:
        print("not connected: run `attune connect --project P --bucket B` before `attune tune start`")
    return 0


def tune_start(args: argparse.Namespace) -> int:
    from core import gemini_connection as gconn
    from core.tuning import vertex

    settings = _settings(args)
    with store_from_args(args) as store:
        conn = gconn.load(store)
        manifest = vertex.plan(store, args.dataset, conn, settings)
        for line in vertex.preflight(store, manifest, settings).lines():
            print(line, file=sys.stderr)
        approval = confirm(manifest, args)
        job = vertex.start(store, approval, conn, settings)
    print(f"tuning job {job.id} created on Vertex AI ({job.remote_name}); follow it with `attune tune status {job.id}`")
    return 0


def job_lines(job) -> list[str]:
    m = job.metrics
    lines = [f"job {job.id} (vertex, {job.base_model}): {job.state} [{m.get('remote_state', '')}]",
             f"  remote: {job.remote_name or '(not created)'}"]
    for key in ("create_time", "start_time", "end_time"):
        if key in m:
            lines.append(f"  {key.replace('_', ' ')}: {m[key]}")
    for k, v in (m.get("data_stats") or {}).items():
        if not isinstance(v, (dict, list)):
            lines.append(f"  {k.replace('_', ' ')}: {v}")
    if job.error:
        lines.append(f"  error: {job.error}")
    if job.system_name:
        lines.append(f"  tuned endpoint: {job.output} (system {job.system_name}; "
                     f"`attune generate DATASET --system vertex:{job.id}`)")
    return lines


def tune_status(args: argparse.Namespace, job_id: int | None, *, follow: bool = False) -> int:
    """Poll the Vertex job (or every unfinished one) once, or until it ends with ``follow``."""
    from core import gemini_connection as gconn
    from core.store import jobs as job_store
    from core.tuning import vertex

    with store_from_args(args) as store:
        conn = gconn.load(store)
        if job_id is None:
            jobs = vertex.resume(store, conn) if conn.project else []
            jobs = jobs or job_store.list_jobs(store, backend=vertex.BACKEND)[:10]
        elif follow:
            jobs = [vertex.follow(store, job_id, conn, state=terminal_progress("tuning"))]
        else:
            jobs = [vertex.poll(store, job_id, conn)]
    for job in jobs:
        for line in job_lines(job):
            print(line)
    return 0


def tune_cancel(args: argparse.Namespace, job_id: int) -> int:
    from core import gemini_connection as gconn
    from core.tuning import vertex

    with store_from_args(args) as store:
        job = vertex.cancel(store, job_id, gconn.load(store))
    for line in job_lines(job):
        print(line)
    return 0


def _target(store: Store, spec: str):
    from core.generation import gemini

    return gemini.target_for(store, spec)  # the Tune page's Generate reads the same specs


def add_generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--temperature", type=float, default=None,
                   help="default 0 for gemini/vertex, 1 for local models")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-output-tokens", type=int, default=1024)
    p.add_argument("--thinking-budget", type=int, default=0, metavar="N",
                   help="gemini/vertex: thinking tokens (default 0: off, as tuned; -1: the model's default)")
    p.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="gemini/vertex: requests in flight at once (default 8)")
    p.add_argument("--requests-per-minute", type=float, default=None, metavar="N", help="rate limit (default none)")
    add_confirm_args(p)


def generate(args: argparse.Namespace) -> int:
    from core import gemini_connection as gconn
    from core.generation import gemini

    settings = gemini.Settings(
        temperature=0.0 if getattr(args, "temperature", None) is None else args.temperature,
        seed=getattr(args, "seed", 0),
        max_output_tokens=getattr(args, "max_output_tokens", 1024),
        concurrency=getattr(args, "concurrency", None) or 8,
        requests_per_minute=getattr(args, "requests_per_minute", None),
        thinking_budget=None if getattr(args, "thinking_budget", 0) < 0 else getattr(args, "thinking_budget", 0),
    )
    with store_from_args(args) as store:
        conn = gconn.load(store)
        target = _target(store, args.system)
        manifest = gemini.plan(store, args.dataset, target, conn)
        if not manifest.payloads:
            print(f"system {target.system} already has a reply or an outcome for every test item of {args.dataset!r}")
            return 0
        approval = confirm(manifest, args)
        result = gemini.run(store, approval, conn, target, settings, state=terminal_progress("generating"))
    counts = ", ".join(f"{k} {result.outcomes.get(k, 0)}" for k in gemini.OUTCOMES)
    print(f"system {target.system}: {result.sent} sent ({counts}), {result.skipped} already done, "
          f"{result.retries} retries{' — cancelled' if result.cancelled else ''}")
    return 1 if result.outcomes.get("error") else 0

