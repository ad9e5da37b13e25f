"""Training speed of the book's ResNet-18: a D2L-style baseline against the library.

Both runs train the same model (d2l_resnet's ResNet18) with the same seed, epochs,
optimizer and learning rate on Fashion-MNIST resized to 96x96, one after the other in
this process:

  (a) baseline, as D2L does it: PyTorch resizes every image with PIL inside a
      DataLoader, TensorFlow resizes per batch in tf.data and shuffles only the
      order of batches; fp32, default memory layout, a plain eager loop that reads
      the loss back after every batch.
  (b) library: d2l_resnet's FashionMNIST and Trainer (resize on the device, channels-
      last and bf16/fp16 autocast where supported, compiled TensorFlow steps, no
      per-batch host syncs).

Prints images/s, seconds per epoch, validation accuracy per epoch, the time to reach
--target-acc, and the ratios (b)/(a). Runs on the CPU by default and unchanged on a
GPU. Example (the numbers in the issue notes come from this command):

    python bench/train_speed.py --data ../shared/data/fashion-mnist-subset
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framework", choices=["torch", "tensorflow", "both"], default="both")
    p.add_argument("--data", default=None, help="folder of the IDX files (D2L_RESNET_DATA)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--resize", type=int, default=96)
    p.add_argument("--num-train", type=int, default=2048)
    p.add_argument("--num-val", type=int, default=1024)
    p.add_argument("--target-acc", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the results here")
    return p.parse_args(argv)


class Run:
    """Per-epoch timings and accuracies of one training run."""

    def __init__(self, name):
        self.name, self.epoch_seconds, self.val_acc, self.images = name, [], [], 0

    def report(self, target):
        total = sum(self.epoch_seconds)
        reached = next((sum(self.epoch_seconds[:i + 1]) for i, a in enumerate(self.val_acc)
                        if a >= target), None)
        return {"name": self.name, "images_per_s": self.images / total,
                "seconds_per_epoch": [round(s, 1) for s in self.epoch_seconds],
                "val_acc": [round(a, 4) for a in self.val_acc],
                "seconds_to_target": None if reached is None else round(reached, 1)}


# --------------------------------------------------------------------------- PyTorch
def torch_baseline(arrays, args):
    import torch
    from PIL import Image
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, Dataset

    from d2l_resnet import torch as d2l_torch

    class Resized(Dataset):  # D2L: transforms.Resize + ToTensor, per image, in the loader
        def __init__(self, images, labels):
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            img = Image.fromarray(self.images[i]).resize((args.resize, args.resize),
                                                         Image.BILINEAR)
            x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).unsqueeze(0)
            return x, int(self.labels[i])

    d2l_torch.seed_everything(args.seed)
    device = d2l_torch.try_gpu()
    train = DataLoader(Resized(*arrays[:2]), batch_size=args.batch_size, shuffle=True)
    val = DataLoader(Resized(*arrays[2:]), batch_size=args.batch_size)
    model = d2l_torch.ResNet18(lr=args.lr).to(device)
    model(torch.zeros(2, 1, args.resize, args.resize, device=device))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    run = Run("baseline")
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        for X, y in train:
            X, y = X.to(device), y.to(device)
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # D2L plots the loss of every batch: one host sync per batch
            run.images += len(y)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for X, y in val:
                correct += (model(X.to(device)).argmax(1).cpu() == y).sum().item()
                total += len(y)
        run.epoch_seconds.append(time.perf_counter() - start)
        run.val_acc.append(correct / total)
    return run


def torch_library(arrays, args):
    from d2l_resnet import torch as d2l_torch

    d2l_torch.seed_everything(args.seed)
    data = d2l_torch.FashionMNIST(batch_size=args.batch_size, resize=args.resize,
                                  root=args.data, num_train=args.num_train,
                                  num_val=args.num_val, seed=args.seed)
    return _library_run(d2l_torch, data, args)


# ------------------------------------------------------------------------ TensorFlow
def tf_baseline(arrays, args):
    import tensorflow as tf

    from d2l_resnet import tensorflow as d2l_tf

    d2l_tf.seed_everything(args.seed)

    def loader(images, labels, train):  # D2L: batch, then shuffle batches, resize per batch
        ds = tf.data.Dataset.from_tensor_slices(
            (images[..., None].astype(np.float32) / 255, labels.astype(np.int32)))
        ds = ds.batch(args.batch_size)
        if train:
            ds = ds.shuffle(len(labels))
        return ds.map(lambda X, y: (tf.image.resize_with_pad(X, args.resize, args.resize), y))

    train, val = loader(*arrays[:2], True), loader(*arrays[2:], False)
    model = d2l_tf.ResNet18(lr=args.lr)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt = tf.keras.optimizers.SGD(learning_rate=args.lr)
    run = Run("baseline")
    for _ in range(args.epochs):
        start = time.perf_counter()
        for X, y in train:  # eager, as D2L's TensorFlow trainer runs
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(X, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            float(loss)
            run.images += int(y.shape[0])
        correct = total = 0
        for X, y in val:
            correct += int(tf.reduce_sum(tf.cast(
                tf.argmax(model(X, training=False), 1, output_type=tf.int32) == y, tf.int32)))
            total += int(y.shape[0])
        run.epoch_seconds.append(time.perf_counter() - start)
        run.val_acc.append(correct / total)
    return run


def tf_library(arrays, args):
    from d2l_resnet import tensorflow as d2l_tf

    d2l_tf.seed_everything(args.seed)
    data = d2l_tf.FashionMNIST(batch_size=args.batch_size, resize=args.resize,
                               root=args.data, num_train=args.num_train,
                               num_val=args.num_val, seed=args.seed)
    return _library_run(d2l_tf, data, args)


def _library_run(fw, data, args):
    model = fw.ResNet18(lr=args.lr)
    trainer = fw.Trainer(max_epochs=args.epochs, plot=False, progress=False)
    history = trainer.fit(model, data)  # one call, as the book's training cell makes it
    run = Run("library")
    run.epoch_seconds = history.epoch_seconds
    run.val_acc = history.val_acc
    run.images = history.train_images
    return run


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from d2l_resnet.data import load_fashion_mnist

    full = load_fashion_mnist(args.data)
    arrays = (full.train_images[:args.num_train], full.train_labels[:args.num_train],
              full.val_images[:args.num_val], full.val_labels[:args.num_val])
    print(f"{full.source}; using {len(arrays[1]):,} training and {len(arrays[3]):,} "
          f"validation images at {args.resize}x{args.resize}, batch {args.batch_size}, "
          f"{args.epochs} epochs, lr {args.lr}, seed {args.seed}", flush=True)
    plans = {"torch": (torch_baseline, torch_library),
             "tensorflow": (tf_baseline, tf_library)}
    chosen = list(plans) if args.framework == "both" else [args.framework]
    results = {}
    for fw in chosen:
        reports = []
        for fn in plans[fw]:
            r = fn(arrays, args).report(args.target_acc)
            reports.append(r)
            print(f"[{fw:10s}] {r['name']:8s} {r['images_per_s']:7.1f} img/s  "
                  f"s/epoch {r['seconds_per_epoch']}  val_acc {r['val_acc']}  "
                  f"time to {args.target_acc:.2f}: {r['seconds_to_target']} s", flush=True)
        base, lib = reports
        ratio = lib["images_per_s"] / base["images_per_s"]
        print(f"[{fw:10s}] speed-up (library/baseline): {ratio:.2f}x images/s; "
              f"final val_acc {lib['val_acc'][-1]:.3f} vs {base['val_acc'][-1]:.3f}",
              flush=True)
        results[fw] = {"baseline": base, "library": lib, "speedup": ratio}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
