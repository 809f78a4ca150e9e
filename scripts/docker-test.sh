#!/usr/bin/env bash
# docker-test.sh [IMAGE] — run the tlearn image as a user would and check what it wrote
# (make docker-test builds the CPU image first, then runs this):
#
#   1. the image: non-root by default, no build tools left, every library the binary
#      and libtensorflow link is found; its size is printed;
#   2. `docker run --rm IMAGE info --json`: TensorFlow's version is the pinned one;
#   3. on real images (the demo's MNIST digits, made on the host by demo/mkdata) in a
#      read-only mounted folder, with the RUN_DIR on a mounted folder owned by the
#      calling user (--user): a short train, predict, export, predict from the export;
#   4. nothing in the output folder belongs to anyone but that user, and (when the
#      Python reference is installed) the export loads in TensorFlow and agrees.
#
# Running as root (as CI does), the "calling user" is DOCKER_TEST_UID (default 1234),
# so that a file written by the container's root or its default user would be caught.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../third_party/libtensorflow/versions.env
source third_party/libtensorflow/versions.env
IMAGE=${1:-tlearn:cpu}
DOCKER=${DOCKER:-docker}
GO=${GO:-go}
uid=$(id -u) gid=$(id -g)
if [ "$uid" = 0 ]; then uid=${DOCKER_TEST_UID:-1234} gid=${DOCKER_TEST_GID:-$uid}; fi

step() { printf '\n== docker-test: %s\n' "$*"; }
die() { printf 'docker-test: FAIL: %s\n' "$*" >&2; exit 1; }
checks=0
ok() { checks=$((checks + 1)); printf 'docker-test: ok: %s\n' "$*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tlearn-docker-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "the image $IMAGE"
"$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE (make docker VARIANT=cpu)"
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
mb=$(awk -v s="$size" 'BEGIN { printf "%.0f", s / 1e6 }')
echo "docker-test: image $IMAGE size $size bytes ($mb MB)"
variant=$("$DOCKER" image inspect -f '{{index .Config.Labels "io.tlearn.variant"}}' "$IMAGE")
echo "docker-test: variant ${variant:-unknown}"
# The GPU variant runs on TensorFlow's GPU image, which is a Python image by design
# (python3 stays), with the TensorFlow release that image carries (TF_GPU_IMAGE's tag).
tools="go gcc cc python3 pip3" tf_want=$TF_VERSION
if [ "$variant" = gpu ]; then tools="go gcc cc" tf_want=${TF_VERSION%.*}.; fi
user=$("$DOCKER" image inspect -f '{{.Config.User}}' "$IMAGE")
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || die "image runs as root by default (USER '$user')"
run_uid=$("$DOCKER" run --rm --entrypoint id "$IMAGE" -u)
[ "$run_uid" != 0 ] || die "default user has uid 0"
ok "runs as $user (uid $run_uid) by default"
# shellcheck disable=SC2016
inside=$("$DOCKER" run --rm -e tools="$tools" --entrypoint sh "$IMAGE" -c '
  for t in $tools; do command -v "$t" >/dev/null && echo "tool:$t"; done
  ldd /opt/tlearn/bin/tlearn /opt/tlearn/lib/libtensorflow_cc.so.2 /opt/tlearn/lib/libtensorflow_framework.so.2 | grep "not found" || true
  ls /opt/tlearn/bin /opt/tlearn/lib')
echo "$inside"
! grep -q '^tool:' <<<"$inside" || die "build tools left in the runtime image: $(grep '^tool:' <<<"$inside" | tr '\n' ' ')"
! grep -q 'not found' <<<"$inside" || die "unresolved libraries in the image"
ok "runtime holds the binary and libtensorflow, every linked library resolves, no build tools"

step "docker run --rm $IMAGE info --json"
info=$("$DOCKER" run --rm "$IMAGE" info --json 2>"$work/info.err") || { cat "$work/info.err" >&2; die "info failed"; }
echo "$info"
python3 - "$info" "$tf_want" <<'PY' || die "info --json is not what the pinned image must show"
import json, sys
info, want = json.loads(sys.argv[1]), sys.argv[2]
v = info["tensorflow_version"]
assert v == want or (want.endswith(".") and v.startswith(want)), f"TensorFlow {v}, want {want}"
assert any(d["type"] == "CPU" for d in info["devices"]), info["devices"]
assert info["jpeg_decoder"] == "libjpeg-turbo", info["jpeg_decoder"]
PY
ok "info: TensorFlow $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tensorflow_version"])' "$info"), a CPU device, libjpeg-turbo"

step "real images: the demo's MNIST digits (demo/mkdata), RUN_DIR owned by uid $uid"
"$GO" run ./demo/mkdata -out "$work/data" -pretrain 1 -shots 10 -val 10 -predict 2
mkdir -p "$work/out"
chmod -R a+rX "$work/data"
chown "$uid:$gid" "$work/out" 2>/dev/null || [ "$(stat -c %u "$work/out")" = "$uid" ] || die "cannot give $work/out to uid $uid"
chmod 0755 "$work/out"
n_predict=$(find "$work/data/predict" -type f | wc -l)
drun() { "$DOCKER" run --rm --user "$uid:$gid" -v "$work/data:/data:ro" -v "$work/out:/out" "$IMAGE" "$@"; }

step "train (vgg_mini, 40 steps)"
drun train --arch vgg_mini --input-size 32 --margin 0.07 --data /data/finetune --out /out/run --weights none \
  --steps 40 --batch 10 --lr 0.003 --eval-every 20 --log-every 10 --seed 1 || die "train failed"
for f in config.json classes.txt checkpoint model.ckpt-40.index; do
  [ -f "$work/out/run/$f" ] || die "train wrote no $f in the RUN_DIR"
done
[ "$(cat "$work/out/run/classes.txt" | tr '\n' ' ')" = "5 6 7 8 9 " ] || die "classes.txt: $(cat "$work/out/run/classes.txt")"
ok "RUN_DIR has config.json, classes.txt and the step-40 checkpoint"

step "predict from the RUN_DIR"
drun predict --model /out/run --top-k 2 --format jsonl /data/predict >"$work/pred-run.jsonl" || die "predict failed"
step "export"
drun export --model /out/run --out /out/export/1 || die "export failed"
for f in saved_model.pb variables/variables.index assets/classes.txt; do
  [ -f "$work/out/export/1/$f" ] || die "export wrote no $f"
done
step "predict from the exported SavedModel"
drun predict --model /out/export/1 --top-k 2 --format jsonl /data/predict >"$work/pred-export.jsonl" || die "predict (export) failed"
python3 - "$work/pred-run.jsonl" "$work/pred-export.jsonl" "$n_predict" <<'PY' || die "predictions wrong"
import json, sys
run, exp = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
n = int(sys.argv[3])
for name, rows in (("run", run), ("export", exp)):
    assert len(rows) == n, f"{name}: {len(rows)} predictions for {n} images"
    for r in rows:
        assert r["path"].startswith("/data/predict/"), r
        assert len(r["predictions"]) == 2 and all(p["label"] in "56789" for p in r["predictions"]), r
top1 = lambda rows: {r["path"]: r["predictions"][0]["label"] for r in rows}
assert top1(run) == top1(exp), f"RUN_DIR and export disagree: {top1(run)} vs {top1(exp)}"
print(f"{n} images: RUN_DIR and SavedModel give the same top-1")
PY
ok "predict: one answer per image, labels 5-9, RUN_DIR and export agree"

step "ownership of everything written to the mounted folder"
strays=$(find "$work/out" ! -uid "$uid" -printf '%u:%g %p\n' | head -n 5)
[ -z "$strays" ] || die "files not owned by uid $uid: $strays"
ok "$(find "$work/out" | wc -l) paths, all owned by uid $uid"

if [ -x "${TLEARN_PYTHON:-}" ]; then
  step "the export in Python TensorFlow ($TLEARN_PYTHON)"
  mapfile -t imgs < <(find "$work/data/predict" -type f | sort)
  res=$("$TLEARN_PYTHON" scripts/tf_savedmodel_check.py "$work/out/export/1" --encoded "${imgs[@]}" 2>"$work/py.err" | tail -n1) ||
    { tail -n 20 "$work/py.err" >&2; die "the export does not load in TensorFlow"; }
  python3 - "$res" "$work/pred-export.jsonl" "${imgs[@]}" <<'PY' || die "TensorFlow and the container disagree"
import json, sys
res = json.loads(sys.argv[1]); rows = [json.loads(l) for l in open(sys.argv[2])]
by_name = {r["path"].rsplit("/", 1)[1]: r["predictions"][0]["index"] for r in rows}
want = [by_name[p.rsplit("/", 1)[1]] for p in sys.argv[3:]]
assert "serving_default" in res["signatures"], res["signatures"]
assert list(res["bytes_classes"]) == want, f"TF {res['bytes_classes']} vs container {want}"
PY
  ok "tf.saved_model.load: serving_default gives the container's top-1 for every image"
else
  echo "docker-test: (TLEARN_PYTHON not set: the export's check in Python TensorFlow skipped)"
fi

printf '\ndocker-test: image %s, %s MB\n' "$IMAGE" "$mb"
echo "docker-test: $checks passed, 0 failed"
