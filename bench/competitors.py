#!/usr/bin/env python3
"""The Keras and PyTorch sides of `make bench`: the same networks, data,
preprocessing, batch size and threads as tlearn, driven the way their users
drive them (Keras: model.fit / model.predict on a tf.data pipeline; PyTorch: a
DataLoader over PIL + torchvision transforms and a plain training loop).

One task per process (bench.py times the process from the outside):

    competitors.py keras|torch train   --data DIR --arch vgg19|mini|resnet50|… --size S --batch 16 --warmup 2 --steps 3 --save FILE
    competitors.py keras|torch predict --data DIR --arch vgg19|mini|resnet50|… --size S --batch 16 --weights FILE

train prints one JSON line per step ({"step": i, "t": seconds since start});
predict prints one JSON line per image as soon as its batch is classified.

Networks (what tlearn builds, see tfgraph/arch.go):
  vgg19  VGG19 at 224: Keras tf.keras.applications.VGG19(weights=None,
         include_top=False) + Flatten, Dense 4096, Dropout, Dense 4096,
         Dropout, Dense C (TF-Slim's fc6/fc7/fc8 as dense layers); PyTorch
         torchvision.models.vgg19(num_classes=C).
  mini   tlearn's vgg_mini (VGG19's 2,2,4,4,4 convs with 8,16,32,64,64
         channels, fc 128) built with the same layers.
  resnet50, mobilenet_v2, inception_v3
         Keras applications ResNet50 / MobileNetV2 / InceptionV3
         (weights=None, their own top: global pool + Dense C, logits);
         torchvision resnet50 / mobilenet_v2 / inception_v3 (aux head on,
         aux loss weighted 0.4 as TF-Slim). Keras's InceptionV3 has no aux
         head. Input: mobilenet_v2 and inception_v3 take RGB scaled to
         [-1, 1], the others RGB minus the VGG means.
Optimiser: SGD, momentum 0.9, weight decay 5e-4 (Keras: SGD(weight_decay),
PyTorch: SGD(weight_decay)), constant learning rate. Preprocessing: tlearn's
(random square crop of side min(h,w)-20 + flip for training, central square
crop for inference; antialiased bilinear resize; RGB minus the VGG means).
"""
import argparse
import json
import os
import sys
import time

T0 = time.perf_counter()
MEANS = (123.68, 116.78, 103.94)
MARGIN = 10
MINI = dict(convs=(2, 2, 4, 4, 4), filters=(8, 16, 32, 64, 64), fc=128)
ARCHS = ["vgg19", "mini", "resnet50", "mobilenet_v2", "inception_v3"]
# Nets whose input is RGB scaled to [-1, 1] (TF-Slim's inception
# preprocessing, as tlearn's mobilenet_* and inception_v3); the others take
# RGB minus the VGG means.
PLUS_MINUS_ONE = {"mobilenet_v2", "inception_v3"}


def files(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    out = []
    for i, c in enumerate(classes):
        for dp, _, fs in sorted(os.walk(os.path.join(root, c))):
            for f in sorted(fs):
                if f.lower().endswith((".jpg", ".jpeg", ".png")):
                    out.append((os.path.join(dp, f), i))
    return classes, out


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- Keras


def keras_setup(threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)  # as tlearn on the CPU (tfgraph cpuInterOpThreads)
    return tf


def keras_model(tf, arch, size, classes):
    k = tf.keras
    # Keras applications with their own top (global pool + Dense C), logits out.
    apps = {"resnet50": k.applications.ResNet50, "mobilenet_v2": k.applications.MobileNetV2,
            "inception_v3": k.applications.InceptionV3}
    if arch in apps:
        return apps[arch](weights=None, include_top=True, classes=classes, input_shape=(size, size, 3),
                          classifier_activation=None)
    if arch == "vgg19":
        body = k.applications.VGG19(weights=None, include_top=False, input_shape=(size, size, 3))
        x = body.output
        width = 4096
        inp = body.input
    else:
        inp = k.Input((size, size, 3))
        x = inp
        for b, (n, f) in enumerate(zip(MINI["convs"], MINI["filters"])):
            for c in range(n):
                x = k.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"block{b + 1}_conv{c + 1}")(x)
            x = k.layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
        width = MINI["fc"]
    x = k.layers.Flatten(name="flatten")(x)
    x = k.layers.Dense(width, activation="relu", name="fc6")(x)
    x = k.layers.Dropout(0.5)(x)
    x = k.layers.Dense(width, activation="relu", name="fc7")(x)
    x = k.layers.Dropout(0.5)(x)
    out = k.layers.Dense(classes, name="fc8")(x)
    return k.Model(inp, out)


def keras_dataset(tf, items, size, batch, workers, train, arch, seed=0):
    paths = [p for p, _ in items]
    labels = [l for _, l in items]
    pm1 = arch in PLUS_MINUS_ONE
    means = tf.constant((127.5,) * 3 if pm1 else MEANS, tf.float32)
    scale = 1 / 127.5 if pm1 else 1.0

    def load(path, label):
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        shape = tf.shape(img)
        h, w = shape[0], shape[1]
        if train:
            s = tf.minimum(h, w) - 2 * MARGIN
            img = tf.image.random_crop(img, tf.stack([s, s, 3]))
            img = tf.image.random_flip_left_right(img)
        else:
            s = tf.minimum(h, w)
            img = tf.image.crop_to_bounding_box(img, (h - s) // 2, (w - s) // 2, s, s)
        x = tf.image.resize(img[None], [size, size], method="bilinear", antialias=True)[0]
        return (x - means) * scale, label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if train:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.map(load, num_parallel_calls=workers).batch(batch, drop_remainder=train).prefetch(2)
    opts = tf.data.Options()
    opts.threading.private_threadpool_size = workers
    return ds.with_options(opts)


def keras_train(a, classes, items):
    tf = keras_setup(a.threads)
    model = keras_model(tf, a.arch, a.size, len(classes))
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=a.lr, momentum=0.9, weight_decay=5e-4),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds = keras_dataset(tf, items, a.size, a.batch, a.workers, True, a.arch)

    class Steps(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            emit({"step": batch + 1, "t": time.perf_counter() - T0})

    model.fit(ds, steps_per_epoch=a.warmup + a.steps, epochs=1, verbose=0, callbacks=[Steps()])
    emit({"jit_compile": bool(getattr(model, "jit_compile", False))})
    if a.save:
        model.save_weights(a.save)


def keras_predict(a, classes, items):
    tf = keras_setup(a.threads)
    model = keras_model(tf, a.arch, a.size, len(classes))
    model.load_weights(a.weights)
    ds = keras_dataset(tf, items, a.size, a.batch, a.workers, False, a.arch)

    def out(probs, chunk):
        for (path, _), p in zip(chunk, probs):
            i = int(p.argmax())
            emit({"path": path, "label": classes[i], "probability": float(p[i])})

    # First batch on its own: that is what a user waiting for an answer sees.
    first = model.predict(ds.take(1), verbose=0)
    out(tf.nn.softmax(first).numpy(), items[:a.batch])
    rest = model.predict(ds.skip(1), verbose=0)
    out(tf.nn.softmax(rest).numpy(), items[a.batch:])


# ---------------------------------------------------------------- PyTorch


def torch_setup(threads):
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return torch


def torch_model(torch, arch, classes):
    from torch import nn
    import torchvision
    if arch == "vgg19":
        return torchvision.models.vgg19(weights=None, num_classes=classes)
    if arch == "resnet50":
        return torchvision.models.resnet50(weights=None, num_classes=classes)
    if arch == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None, num_classes=classes)
    if arch == "inception_v3":
        # With its aux head, as TF-Slim's inception_v3 and tlearn train it.
        return torchvision.models.inception_v3(weights=None, num_classes=classes, aux_logits=True,
                                               init_weights=True)
    layers, cin = [], 3
    for n, f in zip(MINI["convs"], MINI["filters"]):
        for _ in range(n):
            layers += [nn.Conv2d(cin, f, 3, padding=1), nn.ReLU(inplace=True)]
            cin = f
        layers.append(nn.MaxPool2d(2))
    w = MINI["fc"]
    return nn.Sequential(*layers, nn.Flatten(), nn.LazyLinear(w), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(w, w), nn.ReLU(True), nn.Dropout(), nn.Linear(w, classes))


class TorchSet:
    """ImageFolder-like dataset with tlearn's crops (module level: picklable)."""

    def __init__(self, items, size, train, arch):
        self.items, self.size, self.train = items, size, train
        self.pm1 = arch in PLUS_MINUS_ONE

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        import torch
        from PIL import Image
        from torchvision.transforms import functional as F
        path, label = self.items[i]
        img = Image.open(path).convert("RGB")
        w, h = img.size
        if self.train:
            s = min(w, h) - 2 * MARGIN
            x0 = int(torch.randint(0, w - s + 1, ()))
            y0 = int(torch.randint(0, h - s + 1, ()))
            img = img.crop((x0, y0, x0 + s, y0 + s))
            if torch.rand(()) < 0.5:
                img = F.hflip(img)
        else:
            s = min(w, h)
            x0, y0 = (w - s) // 2, (h - s) // 2
            img = img.crop((x0, y0, x0 + s, y0 + s))
        img = img.resize((self.size, self.size), Image.Resampling.BILINEAR)  # antialiased in PIL
        x = F.pil_to_tensor(img).float()
        if self.pm1:
            x = x / 127.5 - 1
        else:
            x -= torch.tensor(MEANS).view(3, 1, 1)
        return x, label


def torch_loader(torch, items, size, batch, workers, train, arch):
    from torch.utils.data import DataLoader
    return DataLoader(TorchSet(items, size, train, arch), batch_size=batch, shuffle=train, drop_last=train,
                      num_workers=workers, prefetch_factor=2 if workers else None,
                      persistent_workers=bool(workers) and train)


def torch_train(a, classes, items):
    torch = torch_setup(a.threads)
    model = torch_model(torch, a.arch, len(classes))
    if a.arch == "mini":
        model(torch.zeros(1, 3, a.size, a.size))  # materialise lazy layers
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    lossf = torch.nn.CrossEntropyLoss()
    model.train()
    step, want = 0, a.warmup + a.steps
    while step < want:
        for x, y in torch_loader(torch, items, a.size, a.batch, a.workers, True, a.arch):
            opt.zero_grad(set_to_none=True)
            out = model(x)
            if isinstance(out, tuple):  # inception_v3's (logits, aux_logits): slim's 0.4 aux weight
                loss = lossf(out[0], y) + 0.4 * lossf(out[1], y)
            else:
                loss = lossf(out, y)
            loss.backward()
            opt.step()
            step += 1
            emit({"step": step, "t": time.perf_counter() - T0, "loss": float(loss)})
            if step >= want:
                break
    if a.save:
        torch.save(model.state_dict(), a.save)


def torch_predict(a, classes, items):
    torch = torch_setup(a.threads)
    model = torch_model(torch, a.arch, len(classes))
    if a.arch == "mini":
        model(torch.zeros(1, 3, a.size, a.size))
    model.load_state_dict(torch.load(a.weights))
    model.eval()
    i = 0
    with torch.inference_mode():
        for x, _ in torch_loader(torch, items, a.size, a.batch, a.workers, False, a.arch):
            probs = torch.softmax(model(x), 1)
            p, idx = probs.max(1)
            for k in range(x.shape[0]):
                emit({"path": items[i][0], "label": classes[int(idx[k])], "probability": float(p[k])})
                i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tool", choices=["keras", "torch"])
    ap.add_argument("task", choices=["train", "predict"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--arch", default="vgg19", choices=ARCHS)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--save", help="train: write the weights here")
    ap.add_argument("--weights", help="predict: weights written by train")
    a = ap.parse_args()
    classes, items = files(a.data)
    fn = {("keras", "train"): keras_train, ("keras", "predict"): keras_predict,
          ("torch", "train"): torch_train, ("torch", "predict"): torch_predict}[(a.tool, a.task)]
    fn(a, classes, items)


if __name__ == "__main__":
    main()
