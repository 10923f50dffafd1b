"""CLI: python -m explorer.training --task char [--text PATH] --kind lstm --out model.safetensors

Without --text, a char model trains on Tiny Shakespeare, shipped with the package.

Trains with explorer.training.trainer.Trainer, shows a tqdm progress bar, writes a checkpoint in the
project's format (weights + config + vocab + model card with the exact command) and prints
where it went.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time

import torch
from tqdm import tqdm

from explorer.core.kinds import KINDS
from explorer.io.inputs import corpus
from explorer.io.inputs.corpus import tiny_shakespeare
from explorer.io.inputs.data import TASK_SHAPES, Vocab, read_text
from explorer.io.models.ours import ModelConfig, build, count_parameters

from .trainer import TrainConfig, Trainer, device_label, heldout_loss


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m explorer.training", description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="char", choices=["char", "adding", "copy", "sine", "series"])
    p.add_argument("--text", help="text file for --task char (default: Tiny Shakespeare, shipped with the package)")
    p.add_argument("--kind", default="lstm", choices=list(KINDS))
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--name", default="")
    p.add_argument("--corpus", default="", help="corpus description for the model card")
    p.add_argument("--resume", default="")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    source, vocab = None, None
    if a.task == "char":
        if a.text:
            with open(a.text, "rb") as f:
                source = read_text(f.read(), max_chars=50_000_000)
        else:
            source = tiny_shakespeare()
            a.corpus = a.corpus or corpus.ABOUT
        vocab = Vocab.from_text(source)
        cfg = ModelConfig(a.kind, vocab_size=len(vocab), embedding_size=a.embedding, hidden_size=a.hidden,
                          num_layers=a.layers)
    else:
        inp, out, readout = TASK_SHAPES[a.task]
        cfg = ModelConfig(a.kind, input_size=inp, embedding_size=a.embedding, hidden_size=a.hidden,
                          num_layers=a.layers, output_size=out, readout=readout)
    model = build(cfg, vocab)
    tcfg = TrainConfig(a.task, a.steps, a.batch, a.seq_len, a.lr, a.clip, a.eval_every, seed=a.seed, device=a.device)
    bar = tqdm(total=a.steps, desc=f"{a.name or a.kind}", unit="step")

    def report(tr: Trainer):
        bar.update(tr.step - bar.n)
        bar.set_postfix(loss=f"{tr.loss:.3f}", val=f"{tr.val_loss:.3f}", gnorm=f"{tr.grad_norm:.2f}")
    trainer = Trainer(model, tcfg, source, callbacks=[report])
    if a.resume:
        trainer.resume(a.resume)
    t0 = time.time()
    trainer.run()
    bar.close()
    wall = time.time() - t0
    extra = {"name": a.name, "recipe": "python -m explorer.training " + " ".join(shlex.quote(s) for s in argv),
             "wall_time_s": round(wall, 1), "device": device_label(trainer.device),
             "parameters": count_parameters(model), "corpus": a.corpus, "baseline": trainer.baseline}
    if a.task == "char":
        extra["split"] = "first 90% train, last 10% held out (by position)"
        extra["train_loss_nats"] = round(heldout_loss(model, trainer.train_ids[-len(trainer.val_ids):]), 4)
        extra["heldout_loss_nats"] = round(heldout_loss(model, trainer.val_ids), 4)
        extra["heldout_bpc"] = round(extra["heldout_loss_nats"] / math.log(2), 4)
    else:
        extra["heldout_loss"] = round(trainer.evaluate(32), 5)
    if trainer.error:
        print(trainer.error, file=sys.stderr)
    trainer.save(a.out, **extra)
    print(f"wrote {a.out}  ({', '.join(f'{k}={v}' for k, v in extra.items() if k != 'recipe')})")


if __name__ == "__main__":
    main()
