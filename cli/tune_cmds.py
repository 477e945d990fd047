"""``attune models`` and ``attune tune start|status|cancel|resume`` (issue 14; Vertex: cli/vertex_cmds.py).

A local job trains in its own process (``core.tuning.worker``); ``tune start``
follows it in the foreground unless ``--detach``, and Ctrl-C there stops only
the following, never the training (``attune tune cancel JOB`` does that).
"""

from __future__ import annotations

import argparse
import sys
import time

from cli.common import print_table, store_from_args
from core.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="base models for local tuning: size, licence, fits this machine")
    m.add_argument("paths", nargs="*", metavar="PATH", help="also describe these model folders or .gguf files")
    m.add_argument("--download", metavar="ORG/NAME[@REV]",
                   help="download a Hugging Face model once into the workspace's model cache (the only command "
                        "that reaches the hub; it sends the model id, nothing from the workspace)")
    m.set_defaults(handler=cmd_models)

    t = sub.add_parser("tune", help="tune a model on a dataset (locally, or on Vertex AI) and follow the job")
    tsub = t.add_subparsers(dest="tune_command", required=True, metavar="{start,status,cancel,resume,preflight}")
    start = tsub.add_parser("start", help="start tuning a base model on a dataset's train split")
    start.add_argument("dataset")
    start.add_argument("--backend", default="local", help="local (default) or vertex")
    start.add_argument("--base", default="default", metavar="default|PATH|ORG/NAME",
                       help="local: the embedded SmolLM2-135M-Instruct, a model folder, a .gguf file, or a "
                            "Hugging Face id downloaded with `attune models --download`")
    start.add_argument("--base-model", default=None, help="vertex: the Gemini model to tune")
    start.add_argument("--epochs", type=int, default=None)
    start.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float, default=None)
    start.add_argument("--rank", dest="lora_rank", type=int, default=None, help="local: LoRA rank")
    start.add_argument("--alpha", dest="lora_alpha", type=int, default=None, help="local: LoRA alpha")
    start.add_argument("--batch-size", type=int, default=None)
    start.add_argument("--max-seq-len", type=int, default=None, help="local: tokens per example (context cut first)")
    start.add_argument("--seed", type=int, default=None)
    start.add_argument("--device", default=None, help="local: auto (default), cpu, cuda or mps")
    start.add_argument("--name", default=None, help="local: the tuned system's name (default local-JOB)")
    start.add_argument("--detach", action="store_true", help="return at once; the job goes on")
    _vertex_args(start)
    start.set_defaults(handler=cmd_tune_start)
    pre = tsub.add_parser("preflight", help="vertex: what a tuning job would send and cost")
    pre.add_argument("dataset")
    pre.add_argument("--backend", default="vertex")
    pre.add_argument("--base-model", default=None)
    pre.add_argument("--epochs", type=int, default=None)
    _vertex_args(pre)
    pre.set_defaults(handler=cmd_tune_preflight)
    status = tsub.add_parser("status", help="jobs and their progress (every job, or one)")
    status.add_argument("job", nargs="?", type=int)
    status.add_argument("--follow", action="store_true", help="until the job ends")
    status.set_defaults(handler=cmd_tune_status)
    cancel = tsub.add_parser("cancel", help="stop a running job")
    cancel.add_argument("job", type=int)
    cancel.set_defaults(handler=cmd_tune_cancel)
    resume = tsub.add_parser("resume", help="continue a local job that stopped (killed, crashed, cancelled)")
    resume.add_argument("job", type=int)
    resume.add_argument("--detach", action="store_true")
    resume.set_defaults(handler=cmd_tune_resume)


def _vertex_args(p: argparse.ArgumentParser) -> None:
    try:
        from cli import vertex_cmds
    except ImportError:  # the Vertex backend is optional
        return
    vertex_cmds.add_tune_args(p)


def cmd_models(args: argparse.Namespace) -> int:
    from core import models_local
    from core.workspace import workspace_dir

    workspace = workspace_dir(args.home)
    if args.download:
        return _download(args.download, workspace)
    problem = models_local.missing_extra()
    models = models_local.available_models(args.paths, workspace=workspace)
    if not models:
        print(f"no base model installed; {models_local.EXTRA_HINT}")
        return 1
    rows = []
    for m in models:
        fits = models_local.fits_memory(m)
        # A downloaded model is named by its hub id, which is what --base takes.
        rows.append((m.hub_id or m.name, m.label, f"{m.size_bytes / 1e6:.0f} MB", m.licence,
                     "yes" if fits else "unknown" if fits is None else "no"))
    print_table(["MODEL", "WHAT", "SIZE", "LICENCE", "FITS MEMORY"], rows)
    if problem:
        print(problem, file=sys.stderr)
    return 0


def _download(spec: str, workspace) -> int:
    from core import models_hub, models_local
    from core.progress import Progress, TaskState
    from core.workspace import DB_FILENAME

    if not (workspace / DB_FILENAME).is_file():
        raise UsageError(f"{workspace}: no workspace there (a typo in --home?); "
                         "`attune init` or the app's first start makes one")
    tty = sys.stderr.isatty()
    shown = [None]

    def draw(p: Progress) -> None:
        if not tty:  # a log: one line per file
            if p.label != shown[0] and p.total:
                shown[0] = p.label
                print(f"{spec}: {p.label} ({p.done / 1e6:.1f} of {p.total / 1e6:.1f} MB)", file=sys.stderr)
            return
        key = (p.label, int(100 * p.done / p.total) if p.total else -1)
        if key != shown[0]:
            shown[0] = key
            amount = f"{p.done / 1e6:8.1f}/{p.total / 1e6:.1f} MB {key[1]:3d}% " if p.total else ""
            print(f"\r{spec}: {amount}{p.label[:40]:<40}", end="", file=sys.stderr, flush=True)

    already = models_hub.cached(workspace, spec)
    folder = models_hub.download(workspace, spec, TaskState(on_update=draw))
    if tty:
        print(file=sys.stderr)
    model = models_local.resolve(spec, workspace)
    verb = "already downloaded" if already else "downloaded"
    print(f"{model.label}: {verb}, {model.size_bytes / 1e6:.0f} MB, licence {model.licence}, in {folder}; "
          f"tune with `attune tune start DATASET --base {spec}`")
    return 0


def _local_settings(args: argparse.Namespace) -> dict:
    keys = ("epochs", "learning_rate", "lora_rank", "lora_alpha", "batch_size", "max_seq_len", "seed", "device")
    settings = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    settings["base"] = args.base
    if args.name:
        settings["name"] = args.name
    return settings


def job_lines(job) -> list[str]:
    if job.backend != "local":
        from cli import vertex_cmds

        return vertex_cmds.job_lines(job)
    m = job.metrics
    lines = [f"job {job.id} (local, {job.settings.get('dataset', '?')} on {job.base_model}): {job.state}"]
    if m.get("step") is not None:
        eta = f", ETA {_duration(m['eta_s'])}" if m.get("eta_s") else ""
        lines.append(f"  step {m['step']}/{m.get('total_steps')} (epoch {m.get('epoch')}), loss {m.get('loss')}, "
                     f"{m.get('tokens_per_s')} tokens/s on {m.get('device', '?')}, "
                     f"elapsed {_duration(m.get('elapsed_s') or 0)}{eta}")
    for epoch, val in m.get("val_loss", []):
        lines.append(f"  epoch {epoch}: validation loss {val}")
    if job.error:
        lines.append(f"  error: {job.error}")
    if job.system_name:
        lines.append(f"  adapter: {job.output} (system {job.system_name}; "
                     f"`attune generate DATASET --system local:{job.system_name}`)")
    return lines


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _follow(store, job) -> int:
    from core.tuning import local_lora

    shown = [None]

    def show(j) -> None:
        m = j.metrics
        key = (m.get("step"), j.state)
        if key == shown[0]:
            return
        shown[0] = key
        if m.get("step") is not None:
            print(f"\rstep {m['step']}/{m.get('total_steps')} epoch {m.get('epoch')} loss {m.get('loss')} "
                  f"{m.get('tokens_per_s')} tok/s ETA {_duration(m.get('eta_s') or 0)}   ",
                  end="", file=sys.stderr, flush=True)

    try:
        job = local_lora.wait(store, job, on_poll=show)
    except KeyboardInterrupt:
        print(f"\nstopped following; the job goes on (`attune tune status {job.id}`, "
              f"`attune tune cancel {job.id}`)", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    for line in job_lines(job):
        print(line)
    return 0 if job.state == "succeeded" else 1


def cmd_tune_start(args: argparse.Namespace) -> int:
    if args.backend == "vertex":
        from cli import vertex_cmds

        return vertex_cmds.tune_start(args)
    from core import models_local
    from core.tuning.base import get_backend

    backend = get_backend(args.backend)
    problem = backend.available()
    if problem:
        raise UsageError(problem)
    with store_from_args(args) as store:
        # A hub id is tuned from its downloaded copy, never downloaded here; the job records the folder.
        args.base = models_local.local_spec(args.base, store.path.parent)
        job = backend.start(store, args.dataset, _local_settings(args))
        print(f"tuning job {job.id} started (local, {job.settings['dataset']} on {job.base_model}); "
              f"log {job.log_path}", file=sys.stderr)
        if args.detach:
            print(f"job {job.id}: follow it with `attune tune status {job.id} --follow`")
            return 0
        return _follow(store, job)


def cmd_tune_preflight(args: argparse.Namespace) -> int:
    if args.backend != "vertex":
        raise UsageError("tune preflight: only for --backend vertex (local tuning sends nothing)")
    from cli import vertex_cmds

    return vertex_cmds.tune_preflight(args)


def cmd_tune_status(args: argparse.Namespace) -> int:
    from core.tuning import base as tuning
    from core.tuning.base import get_backend

    with store_from_args(args) as store:
        if args.job is not None:
            job = tuning.get_job(store, args.job)
            if job.backend != "local":
                from cli import vertex_cmds

                return vertex_cmds.tune_status(args, args.job, follow=args.follow)
            job = get_backend("local").poll(store, job)
            if args.follow and job.state == "running":
                return _follow(store, job)
            jobs = [job]
        else:
            all_jobs = tuning.list_jobs(store)
            jobs = [get_backend("local").poll(store, j) for j in all_jobs if j.backend == "local"]
            others = [j for j in all_jobs if j.backend != "local"]
            if not all_jobs:
                print("no tuning jobs yet (`attune tune start DATASET`)")
                return 0
    for job in jobs:
        for line in job_lines(job):
            print(line)
    if args.job is None and others:
        from cli import vertex_cmds

        return vertex_cmds.tune_status(args, None)
    return 0


def cmd_tune_cancel(args: argparse.Namespace) -> int:
    from core.tuning import base as tuning
    from core.tuning.base import get_backend

    with store_from_args(args) as store:
        job = tuning.get_job(store, args.job)
        if job.backend != "local":
            from cli import vertex_cmds

            return vertex_cmds.tune_cancel(args, args.job)
        backend = get_backend("local")
        job = backend.cancel(store, job)
        deadline = time.monotonic() + 30
        while job.state == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            job = backend.poll(store, job)
    for line in job_lines(job):
        print(line)
    return 0 if job.state == "cancelled" else 1


def cmd_tune_resume(args: argparse.Namespace) -> int:
    from core.tuning import base as tuning
    from core.tuning.base import get_backend

    with store_from_args(args) as store:
        job = tuning.get_job(store, args.job)
        if job.backend != "local":
            raise UsageError(f"tuning job {job.id} runs on {job.backend}; only local jobs resume")
        backend = get_backend("local")
        job = backend.resume(store, backend.poll(store, job))
        print(f"tuning job {job.id} resumed", file=sys.stderr)
        if args.detach:
            return 0
        return _follow(store, job)
