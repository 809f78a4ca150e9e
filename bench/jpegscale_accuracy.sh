#!/usr/bin/env bash
# Validation top-1 with DCT-scaled vs full-scale JPEG decoding (issue 14 item 1;
# results in bench/NOTES.md). For each seed it trains resnet_mini at 96 px
# twice on the set bench/jpegscale_accuracy.py gen built — once with the
# default decoding (--jpeg-scale auto), once with --jpeg-scale full — and
# evaluates each model both ways on the same validation images, then prints
# the per-image agreement of the two decodings.
#
#   bench/jpegscale_accuracy.sh SET_DIR WORK_DIR [SEED...]   (from the repository root)
#
# needs bin/tlearn built with -tags libjpeg (make build) and $TLEARN_PYTHON
# (Pillow) for the comparison.
set -euo pipefail
set_dir=$1 work=$2
shift 2
seeds=("${@:-1}")
py=${TLEARN_PYTHON:-python3}
here=$(dirname "$0")
mkdir -p "$work"
for seed in "${seeds[@]}"; do
	for train in auto full; do
		run=$work/run-s$seed-$train
		[ -e "$run/best" ] || bin/tlearn train --data "$set_dir" --out "$run" --arch resnet_mini --weights none \
			--input-size 96 --batch 32 --epochs 40 --optimizer adam --lr 0.001 --eval-every 260 --log-every 52 \
			--workers 2 --seed "$seed" --jpeg-scale "$train" >"$run.log" 2>&1
		for ev in auto full; do
			bin/tlearn eval --model "$run" --checkpoint latest --data "$set_dir" --jpeg-scale "$ev" --format json \
				--workers 2 >"$run-eval-$ev.json"
			bin/tlearn predict --model "$run" --checkpoint latest --jpeg-scale "$ev" --format jsonl --workers 2 \
				"$set_dir/val" >"$run-pred-$ev.jsonl" 2>/dev/null
			printf 'seed %s trained %s, eval %s: top-1 %s\n' "$seed" "$train" "$ev" \
				"$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["top1"])' "$run-eval-$ev.json")"
		done
		"$py" "$here/jpegscale_accuracy.py" compare "$run-pred-auto.jsonl" "$run-pred-full.jsonl" --input-size 96
	done
done
