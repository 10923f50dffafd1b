"""Write the pretrained models' README.md from the model cards stored inside each checkpoint.

    python -m explorer.io.models.cards            # rewrites pretrained/README.md (in a checkout)
"""
import math
import os

from explorer.core.kinds import label

from .pretrained import directory, list_pretrained

HEAD = """# Pretrained models

Every model here was trained by the project's own CLI (`python -m explorer.training`); the exact
command is in each card and `pretrained/train_all.sh` rebuilds them all. The Tiny Shakespeare
corpus (1,115,394 characters, public domain) ships with the package, gzipped
(`explorer.io.inputs.corpus.tiny_shakespeare()`); the char recipes read it from there. Split: the first
90% of the characters train, the last 10% are held out (by position). Losses are next-character
cross-entropy in nats (bits per character = nats / ln 2),
over the whole held-out part in consecutive 256-character windows; "train" is the same measure on
the last stretch of the training part, of equal length. The adding-problem models are scored by MSE
on fresh samples; always predicting 1 gives 1/6 ≈ 0.167.

Load one with `explorer.load_pretrained(name)`; `explorer.list_pretrained()` returns these cards.
"""


def main():
    out = [HEAD]
    cards = list_pretrained()
    for name in sorted(cards, key=lambda n: (not n.startswith("shakespeare"), n)):
        c = cards[name]
        cfg = c.get("config", {})
        out.append(f"\n## {name}\n")
        rows = [("kind", label(cfg.get("kind", ""))),
                ("config", f"hidden {cfg.get('hidden_size')}, {cfg.get('num_layers')} layer(s), embedding "
                           f"{cfg.get('embedding_size')}" + (f", vocabulary {cfg.get('vocab_size')}" if cfg.get("vocab_size") else "")),
                ("parameters", f"{c.get('parameters', 0):,}"),
                ("corpus / task", c.get("corpus", "")),
                ("steps", c.get("steps")),
                ("batch × length", f"{c['train']['batch_size']} × {c['train']['seq_len']}" if "train" in c else ""),
                ("wall time", f"{c.get('wall_time_s')} s"), ("device", c.get("device"))]
        if "heldout_loss_nats" in c:
            rows += [("split", c.get("split")),
                     ("train loss", f"{c['train_loss_nats']:.3f} nats ({c['train_loss_nats'] / math.log(2):.3f} bpc)"),
                     ("held-out loss", f"{c['heldout_loss_nats']:.3f} nats ({c['heldout_bpc']:.3f} bpc)"),
                     ("uniform baseline", f"{c.get('baseline', 0):.3f} nats")]
        else:
            rows += [("held-out MSE (2,048 fresh samples)", f"{c.get('heldout_loss'):.2e}"),
                     ("final training-batch loss", f"{c.get('final_loss'):.2e}"),
                     ("baseline (predict 1)", f"{c.get('baseline', 0):.4f}")]
        out.append("| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows))
        out.append(f"\nRecipe:\n\n```bash\n{c.get('recipe', '')}\n```\n")
    path = os.path.join(directory(), "README.md")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print("wrote", path)


if __name__ == "__main__":
    main()
