"""``attune generate DATASET --system SPEC``: replies to a dataset's test items from a model.

Local (issue 14): ``base:local`` (the embedded base model, or ``--base PATH``)
and ``local:RUN`` (a finished local tuning job, by system name or job number).
Vertex / Gemini specs (``gemini:M``, ``vertex:JOB``, ``tuned:JOB``) go to
cli/vertex_cmds.py. Each batch is stored as it arrives; a rerun only does
what is missing.
"""

from __future__ import annotations

import argparse
import sys

from cli.common import store_from_args, terminal_progress
from core.errors import UsageError

BASE_SYSTEM = "local-base"  # core.generation.local.BASE_SYSTEM (kept here: --help must not import torch code)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="replies to a dataset's test items from a base or tuned model")
    p.add_argument("dataset")
    p.add_argument("--system", required=True, metavar="base:local|local:RUN|gemini:M|vertex:JOB",
                   help="which model answers")
    p.add_argument("--name", default=None,
                   help=f"local: store the replies as this system (default {BASE_SYSTEM} for base:local, "
                        "the run's own system for local:RUN)")
    p.add_argument("--base", default="default", metavar="default|PATH|ORG/NAME",
                   help="base:local: the embedded model, a model folder, a .gguf file or a hub model "
                        "downloaded with `attune models --download`")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N test items")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="local: longest reply in tokens (default: the 95th percentile of the dataset's "
                        "training targets)")
    p.add_argument("--min-new-tokens", type=int, default=None, metavar="N",
                   help="local: shortest reply in tokens (default: the 5th percentile of the training targets)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--system-instruction", default=None, help="replace the dataset's system instruction")
    p.add_argument("--device", default="auto")
    # Unset local settings take GenerationSettings' defaults (core/generation/base.py says why).
    local = p.add_argument_group("local sampling (defaults: temperature 1, min-p 0.1, DRY 0.8)")
    local.add_argument("--top-p", type=float, default=None, metavar="P", help="keep the likeliest tokens "
                       "whose probabilities add up to P (default 1: off)")
    local.add_argument("--min-p", type=float, default=None, metavar="P",
                       help="keep only tokens at least P times as likely as the likeliest (default 0.1)")
    local.add_argument("--dry", type=float, default=None, metavar="M",
                       help="don't repeat yourself: a token that would extend a run the reply already said "
                            "loses M * BASE^(run - LEN) (default 0.8; 0 turns it off)")
    local.add_argument("--dry-base", type=float, default=None, metavar="BASE", help="default 1.75")
    local.add_argument("--dry-allowed-length", type=int, default=None, metavar="LEN", help="default 2")
    local.add_argument("--repetition-penalty", type=float, default=None, metavar="X",
                       help="divide every token the reply has used by X (default 1.0: off)")
    try:
        from cli import vertex_cmds

        vertex_cmds.add_generate_args(p)  # --temperature, --seed, … shared with Vertex
    except ImportError:
        p.add_argument("--temperature", type=float, default=None)
        p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    prefix = args.system.split(":", 1)[0]
    if prefix in ("gemini", "vertex", "tuned"):
        from cli import vertex_cmds

        return vertex_cmds.generate(args)
    if prefix not in ("base", "local"):
        raise UsageError(f"--system {args.system}: base:local, local:RUN, gemini:MODEL or vertex:JOB")
    from core import models_local
    from core.generation.base import GenerationSettings, generate_for_dataset

    models_local.require_extra()
    from core.generation.local import LocalGenerator, resolve_target

    given = {"temperature": args.temperature, "top_p": args.top_p, "min_p": args.min_p,
             "repetition_penalty": args.repetition_penalty, "dry_multiplier": args.dry,
             "dry_base": args.dry_base, "dry_allowed_length": args.dry_allowed_length}
    settings = GenerationSettings(
        system_instruction=args.system_instruction, seed=args.seed, max_new_tokens=args.max_new_tokens,
        min_new_tokens=args.min_new_tokens, batch_size=args.batch_size,
        **{k: v for k, v in given.items() if v is not None}).check()
    with store_from_args(args) as store:
        base_spec = models_local.local_spec(args.base, store.path.parent)  # a downloaded hub id → its folder
        name, kind, base, adapter, base_hash = resolve_target(store, args.system, base=base_spec, name=args.name)
        generator = LocalGenerator(base, settings, adapter=adapter, device=args.device, base_hash=base_hash)
        made, had = generate_for_dataset(store, args.dataset, name, kind, generator, settings, limit=args.limit,
                                         state=terminal_progress("generating"))
    print(f"system {name}: {made} replies generated, {had} already stored", file=sys.stderr)
    return 0
