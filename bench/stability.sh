#!/bin/bash
# bench/stability.sh: does `tlearn train` with its defaults train without
# NaN, from scratch and from weights, on real photos, at small batches and
# every input size a net accepts? (issue 13 item 5)
#
#   bench/stability.sh [RUNS...]      RUN = set:arch:size:batch:epochs[:weights]
#
# set is a folder under $SETS (default .cache/photosets, built by
# bench/photosets.py); weights is none (default) or a RUN_DIR made by an
# earlier run of the same invocation, named by its row number (e.g. @3).
# Without RUNS it runs the sweep of bench/NOTES.md. Each run uses tlearn's
# defaults but for --arch/--input-size/--batch/--epochs/--weights, logs
# every step, and reports: the first step's loss, the largest, the last,
# the validation top-1 of the last checkpoint, or the step it stopped at
# with NaN. TLEARN selects the binary (default bin/tlearn).
set -u
cd "$(dirname "$0")/.."
TLEARN=${TLEARN:-bin/tlearn}
SETS=${SETS:-.cache/photosets}
WORK=${WORK:-$(mktemp -d /tmp/tlearn-stability.XXXXXX)}
if [ ! -d "$SETS" ]; then
	"${TLEARN_PYTHON:-python3}" bench/photosets.py --cache .cache/photos --out "$SETS" || exit 1
fi
runs=("$@")
if [ ${#runs[@]} -eq 0 ]; then
	runs=()
	for set in skimage mate; do
		for size in 32 48 64 96 128; do
			for batch in 4 8 16; do runs+=("$set:vgg_mini:$size:$batch:4"); done
		done
		runs+=("$set:resnet_mini:64:4:4" "$set:alexnet_v2:224:4:1" "$set:vgg_16:224:4:1" "$set:vgg_19:224:4:1" "$set:vgg_19:224:8:1")
	done
	runs+=("skimage:vgg_mini:64:8:4" "mate:vgg_mini:64:8:4:@$((${#runs[@]} + 1))")
fi
echo "| # | set | arch | input | batch | epochs | weights | result | loss step 1 | max loss | last loss | val top-1 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
n=0
for r in "${runs[@]}"; do
	n=$((n + 1))
	IFS=: read -r set arch size batch epochs weights <<<"$r"
	weights=${weights:-none}
	case $weights in @*) weights=$WORK/run${weights#@} ;; esac
	out=$WORK/run$n
	rm -rf "$out"
	log=$WORK/run$n.log
	"$TLEARN" train --data "$SETS/$set" --out "$out" --arch "$arch" --input-size "$size" --batch "$batch" \
		--epochs "$epochs" --weights "$weights" --log-every 1 >"$log" 2>&1
	rc=$?
	result=ok
	if [ $rc -ne 0 ]; then
		result="exit $rc: $(grep -o 'loss became NaN at step [0-9]*' "$log" | head -1)"
	fi
	stats=$(awk '/msg=step /{for(i=1;i<=NF;i++) if($i ~ /^loss=/){v=substr($i,6)+0; if(n==0) f=v; if(v>m) m=v; l=v; n++}}
		END{if(n) printf "%.3g | %.3g | %.3g", f, m, l; else printf "- | - | -"}' "$log")
	top1=$(grep -o 'validation top-1 [0-9.]*' "$log" | tail -1 | awk '{print $3}')
	echo "| $n | $set | $arch | $size | $batch | $epochs | ${weights##*/} | $result | $stats | ${top1:--} |"
done
