#!/usr/bin/env bash
# Rebuilds every model in pretrained/ with the project's own CLI. Usage:
#   pretrained/train_all.sh                 # all twelve
#   pretrained/train_all.sh mingru slstm    # only these kinds
# The char models train on Tiny Shakespeare as the package ships it (explorer/io/inputs/tinyshakespeare.txt.gz).
# Every kind gets the same recipe: hidden 256 (char) / 64 (adding), the same steps, batches, rate and seed.
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=("${@:-lstm gru rnn mingru minlstm slstm}")
for k in ${kinds[@]}; do
  python -m explorer.training --task char --kind $k --hidden 256 --embedding 64 \
    --steps 4000 --batch 32 --seq-len 128 --lr 3e-3 --clip 1.0 --eval-every 500 --seed 0 --threads 1 \
    --device cpu --name shakespeare-$k --out pretrained/shakespeare-$k.safetensors
  python -m explorer.training --task adding --corpus "adding problem, T=100, fresh samples every step" --kind $k \
    --hidden 64 --embedding 16 --steps 4000 --batch 64 --seq-len 100 --lr 3e-3 --clip 1.0 --eval-every 500 \
    --seed 0 --threads 1 --device cpu --name adding-$k --out pretrained/adding-$k.safetensors
done
