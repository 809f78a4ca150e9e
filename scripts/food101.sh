#!/usr/bin/env bash
# make food101 — fetch the classic recipe's data and weights (needs internet access;
# the development machines of this project have none, so CI never runs it):
#   Food-101 (≈5 GB)        → $FOOD101_DIR/food-101/{meta,images}
#   TF-Slim vgg_19.ckpt     → $FOOD101_DIR/vgg_19.ckpt   (and vgg_16.ckpt with ARCH=vgg_16)
# then prints the tlearn command that fine-tunes VGG19 on it.
set -euo pipefail
dir=${FOOD101_DIR:-data}
arch=${ARCH:-vgg_19}
mkdir -p "$dir"
food_url=http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz
# The archive's MD5, as torchvision's Food101 dataset class checks it.
food_md5=85eeb15f3717b99a5da872d97d918f87
case $arch in
  vgg_19) ckpt_url=http://download.tensorflow.org/models/vgg_19_2016_08_28.tar.gz ;;
  vgg_16) ckpt_url=http://download.tensorflow.org/models/vgg_16_2016_08_28.tar.gz ;;
  *) echo "ARCH must be vgg_19 or vgg_16" >&2; exit 2 ;;
esac

fetch() { # url file
  if [ -f "$2" ]; then echo "have $2"; return; fi
  echo "downloading $1"
  curl -fL --retry 3 -C - -o "$2.part" "$1"
  mv "$2.part" "$2"
}

if [ ! -f "$dir/food-101/meta/classes.txt" ]; then
  fetch "$food_url" "$dir/food-101.tar.gz"
  got=$(md5sum "$dir/food-101.tar.gz" | cut -d' ' -f1)
  if [ "$got" != "$food_md5" ]; then
    echo "food-101.tar.gz: MD5 $got, want $food_md5 (torchvision's): corrupt download, delete it and retry" >&2
    exit 1
  fi
  tar -xzf "$dir/food-101.tar.gz" -C "$dir"
fi

if [ ! -f "$dir/$arch.ckpt" ]; then
  fetch "$ckpt_url" "$dir/${arch}.tar.gz"
  # TF-Slim publishes no checksum for these archives; print ours so a rerun can be compared.
  echo "sha256 $(sha256sum "$dir/${arch}.tar.gz" | cut -d' ' -f1)  ${arch}.tar.gz"
  tar -xzf "$dir/${arch}.tar.gz" -C "$dir"
fi

cat <<EOT

Ready. Fine-tune $arch on Food-101 as the classic recipe does (20 epochs, batch 64, LR 1e-3 → 1e-7):

  bin/tlearn train --data $dir/food-101 --out runs/food101-$arch --arch $arch \\
      --weights $dir/$arch.ckpt --device gpu:0

  tensorboard --logdir runs/
  bin/tlearn eval --model runs/food101-$arch --data $dir/food-101 --out reports/food101-$arch
  bin/tlearn export --model runs/food101-$arch --out export/food101-$arch/1
EOT
