"""The training process: ``python -m core.tuning.worker JOBDIR``.

It never opens the workspace database (a crash here cannot take the
workspace with it): it reads ``JOBDIR/config.json`` and the rendered
``train.jsonl`` / ``validation.jsonl`` (the Hugging Face prompt–completion
lines of the export), and writes only into JOBDIR:

- ``progress.jsonl``: one JSON object per event (``start``, ``step``,
  ``epoch``, ``checkpoint``, ``resumed``, ``done``, ``error``), flushed as
  written; the app polls it;
- ``checkpoint/state.pt``: adapter weights, optimizer, schedule, step and RNG,
  replaced atomically; a restarted worker continues from it;
- ``adapter/``: the finished LoRA adapter (PEFT format);
- ``result.json``: the final state (succeeded / failed / cancelled), last.

Cancel: the file ``JOBDIR/cancel`` (or SIGTERM) stops it at the next step.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

_stop = False


def _on_term(signum: int, frame: Any) -> None:
    global _stop
    _stop = True


class Log:
    def __init__(self, path: Path) -> None:
        self._fh = path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        self._fh.write(json.dumps({"event": event, "at": time.time(), **fields}, sort_keys=True) + "\n")
        self._fh.flush()


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, sort_keys=True, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def train(jobdir: Path) -> str:
    """Run (or continue) the job in ``jobdir``; returns the final state."""
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    from core.tuning import runtime

    config = json.loads((jobdir / "config.json").read_text(encoding="utf-8"))
    s = config["settings"]
    log = Log(jobdir / "progress.jsonl")
    ckpt_path = jobdir / "checkpoint" / "state.pt"
    device = runtime.pick_device(s.get("device", "auto"))
    runtime.set_seed(s["seed"])
    started = time.monotonic()

    tok = runtime.load_tokenizer(config["base"])
    model = runtime.load_model(config["base"], device)
    lora = LoraConfig(r=s["lora_rank"], lora_alpha=s["lora_alpha"], lora_dropout=s["lora_dropout"],
                      target_modules=s["target_modules"], task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)

    def encode(name: str) -> list[tuple[list[int], list[int]]]:
        return [runtime.encode_example(tok, r["prompt"], r["completion"], s["max_seq_len"])
                for r in _read_lines(jobdir / name)]

    train_rows, val_rows = encode("train.jsonl"), encode("validation.jsonl")
    if not train_rows:
        raise ValueError("the dataset has no training examples")
    bs = s["batch_size"]
    per_epoch = math.ceil(len(train_rows) / bs)
    total = per_epoch * s["epochs"]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=s["learning_rate"], weight_decay=0.0)
    warmup = max(1, int(total * s["warmup_ratio"]))
    # Linear warm-up, then linear decay to zero at the last step.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda n: (n + 1) / warmup if n < warmup else max(0.0, (total - n) / max(1, total - warmup)))

    step, epoch_sum, epoch_n, elapsed_before = 0, 0.0, 0, 0.0
    old = jobdir / "checkpoint.old" / "state.pt"
    if not ckpt_path.exists() and old.exists():  # killed between the two renames of save_checkpoint
        os.replace(old.parent, ckpt_path.parent)
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, epoch_sum, epoch_n = state["step"], state["epoch_sum"], state["epoch_n"]
        elapsed_before = state["elapsed_s"]
        torch.set_rng_state(state["rng"])
        random.setstate(state["py_rng"])
        log.write("resumed", step=step, total_steps=total)
    else:
        log.write("start", total_steps=total, steps_per_epoch=per_epoch, device=device,
                  train_examples=len(train_rows), validation_examples=len(val_rows),
                  trainable_params=sum(p.numel() for p in params))

    def save_checkpoint() -> None:
        tmp = jobdir / "checkpoint.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        torch.save({"adapter": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "step": step, "epoch_sum": epoch_sum,
                    "epoch_n": epoch_n, "elapsed_s": elapsed_before + time.monotonic() - started,
                    "rng": torch.get_rng_state(), "py_rng": random.getstate()}, tmp / "state.pt")
        old = jobdir / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if ckpt_path.parent.exists():
            os.replace(ckpt_path.parent, old)
        os.replace(tmp, ckpt_path.parent)
        shutil.rmtree(old, ignore_errors=True)
        log.write("checkpoint", step=step)

    def validation_loss() -> float | None:
        if not val_rows:
            return None
        model.eval()
        total_loss, tokens = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(val_rows), bs):
                batch = runtime.pad_batch(val_rows[i: i + bs], tok.pad_token_id, device)
                n = int((batch["labels"][:, 1:] != runtime.IGNORE).sum())
                total_loss += float(model(**batch).loss) * n
                tokens += n
        model.train()
        return total_loss / max(1, tokens)

    model.train()
    every = s["checkpoint_steps"]
    tokens_done, t0, first_step = 0, time.monotonic(), step
    batches: dict[int, list[list[int]]] = {}
    while step < total:
        epoch, index = divmod(step, per_epoch)
        if epoch not in batches:
            batches = {epoch: _epoch_batches([len(r[0]) for r in train_rows], bs, s["seed"] * 1000 + epoch)}
        chunk = [train_rows[j] for j in batches[epoch][index]]
        if _stop or (jobdir / "cancel").exists():
            log.write("cancelled", step=step)
            return "cancelled"
        batch = runtime.pad_batch(chunk, tok.pad_token_id, device)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        epoch_sum += float(loss.detach())
        epoch_n += 1
        tokens_done += int(batch["attention_mask"].sum())
        rate_s = time.monotonic() - t0
        done_here = step - first_step
        log.write("step", step=step, total_steps=total, epoch=round(step / per_epoch, 4),
                  loss=round(float(loss.detach()), 5), lr=schedule.get_last_lr()[0],
                  tokens_per_s=round(tokens_done / rate_s, 2) if rate_s > 0 else None,
                  elapsed_s=round(elapsed_before + time.monotonic() - started, 2),
                  eta_s=round(rate_s / done_here * (total - step), 1))
        if step % per_epoch == 0:
            val = validation_loss()
            log.write("epoch", epoch=step // per_epoch, step=step, train_loss=round(epoch_sum / max(1, epoch_n), 5),
                      val_loss=round(val, 5) if val is not None else None)
            epoch_sum, epoch_n = 0.0, 0
            save_checkpoint()
        elif every and step % every == 0:
            save_checkpoint()

    out, tmp = jobdir / "adapter", jobdir / "adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    log.write("done", step=step, elapsed_s=round(elapsed_before + time.monotonic() - started, 2))
    return "succeeded"


def _epoch_batches(lengths: list[int], bs: int, seed: int) -> list[list[int]]:
    """An epoch's batches: shuffled, then sorted by length within windows of 8 batches so a
    batch pads little, then the batches shuffled. Depends only on the seed: a resumed run
    sees the same batches in the same order."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = bs * 8
    out: list[list[int]] = []
    for start in range(0, len(order), window):
        part = sorted(order[start: start + window], key=lambda j: lengths[j])
        out += [part[i: i + bs] for i in range(0, len(part), bs)]
    rng.shuffle(out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m core.tuning.worker JOBDIR", file=sys.stderr)
        return 2
    jobdir = Path(args[0])
    signal.signal(signal.SIGTERM, _on_term)
    (jobdir / "result.json").unlink(missing_ok=True)
    try:
        state = train(jobdir)
        _write_json(jobdir / "result.json", {"state": state, "error": ""})
        return 0
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the app, then the process ends
        Log(jobdir / "progress.jsonl").write("error", error=f"{type(exc).__name__}: {exc}")
        (jobdir / "worker-traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
        _write_json(jobdir / "result.json", {"state": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1


if __name__ == "__main__":
    sys.exit(main())
