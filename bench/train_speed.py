"""Training speed of the book's networks: a D2L-style baseline against the library.

Two cases, each run by both trainers with the same seed, epochs, optimizer and
learning rate, one after the other in this process:

* ``--case resnet18`` (the default): the book's ResNet-18 on Fashion-MNIST resized to
  96x96, batch 128 (the training page).
* ``--case degradation``: the five CIFAR-style networks of the degradation page
  (plain and residual, 20 and 56 layers, and the 56-layer pre-activation network),
  built with ``ResNet(cifar_variant(...))`` as the page builds them, on the
  28x28 images, batch 32, lr 0.02, three epochs; the two trainers alternate network
  by network.

The two trainers:

  (a) baseline, as D2L does it: PyTorch resizes every image with PIL inside a
      DataLoader, TensorFlow resizes per batch in tf.data and shuffles only the
      order of batches; fp32, default memory layout, a plain eager loop that reads
      the loss back after every batch.
  (b) library: d2l_resnet's FashionMNIST and Trainer (one ``fit`` call per network,
      as the book's cells make it).

The yardstick is the machine's own GEMM rate, measured in this process before and
after each framework's runs (a 2048x2048 ``torch.matmul`` in bf16 and in fp32), and
the FLOPs of one training step, counted by each framework (``flops.py``). For each
framework and trainer the results give images/s (training images per second of
wall time, evaluation included), GFLOP/s (the FLOPs of the training steps and of the
evaluation after each epoch, per second of the same wall time), the fraction
of the bf16 GEMM rate, the ratio library/baseline and the validation accuracy. They
are printed and written to ``bench/results/<case>-<framework>.json`` with the
machine, the library versions and the command line. Examples:

    python bench/train_speed.py --data ../shared/data/fashion-mnist-subset
    python bench/train_speed.py --case degradation --framework tensorflow

``--framework jax`` runs ``bench/jax_bench.py`` (``jax_baseline``, ``jax_library``,
``jax_step_flops``), in both cases.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)

import flops  # bench/flops.py, next to this file

CASES = {
    "resnet18": dict(epochs=2, batch_size=128, lr=0.01, resize=96, num_train=2048,
                     num_val=1024, target_acc=0.6),
    "degradation": dict(epochs=3, batch_size=32, lr=0.02, resize=28, num_train=2048,
                        num_val=1024, target_acc=0.6),
}
FRAMEWORKS = ("torch", "tensorflow", "jax")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=list(CASES), default="resnet18")
    p.add_argument("--framework", choices=[*FRAMEWORKS, "both", "all"], default="both",
                   help="'both': torch and tensorflow; 'all': also jax")
    p.add_argument("--data", default=None, help="folder of the IDX files (D2L_RESNET_DATA)")
    for name, kind in (("epochs", int), ("batch-size", int), ("lr", float),
                       ("resize", int), ("num-train", int), ("num-val", int),
                       ("target-acc", float)):
        p.add_argument(f"--{name}", type=kind, default=None,
                       help="default: the case's (see CASES)")
    p.add_argument("--networks", default=None,
                   help="degradation case: comma-separated subset of the page's networks, "
                        "e.g. Plain-56,ResNet-56")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--results-dir", default=os.path.join(HERE, "results"),
                   help="where <case>-<framework>.json go ('' for nowhere)")
    p.add_argument("--json", default=None, help="also write all results to this file")
    p.add_argument("--gemm-size", type=int, default=2048,
                   help="n of the n x n matrices of the GEMM yardstick")
    p.add_argument("--no-gemm", action="store_true",
                   help="skip the GEMM measurements (the fractions are then null)")
    p.add_argument("--resummarize", nargs="+", metavar="JSON", default=None,
                   help="train nothing: recount the FLOPs of these result files with the "
                        "current counters and redo their summaries from the stored "
                        "timings (for files written before a counter changed)")
    args = p.parse_args(argv)
    for key, value in CASES[args.case].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


class Run:
    """Per-epoch timings and accuracies of one training run (one network)."""

    def __init__(self, name, network=None):
        self.name, self.network = name, network
        self.epoch_seconds, self.val_acc, self.images = [], [], 0
        self.train_loss = []

    @classmethod
    def from_dict(cls, name, d, network=None):
        run = cls(name, network)
        run.epoch_seconds = list(d["epoch_seconds"])
        run.val_acc = list(d["val_acc"])
        run.images = int(d["images"])
        run.train_loss = list(d.get("train_loss", []))
        return run


def run_flops(r, step_flops, val_images):
    """The FLOPs one run computed: its training steps, and the evaluation passes over
    ``val_images`` images after each epoch (both are in its wall time)."""
    f = step_flops[r.network]
    return r.images * f["train"] + len(r.epoch_seconds) * val_images * (f["eval"] or 0)


def summarize(name, runs, step_flops, gemm, target, val_images=0):
    """One trainer's report over one or more runs (networks): speed, FLOP rate,
    fractions of the GEMM rates, accuracy. The FLOP rate counts the training steps and
    the evaluation after each epoch, since the wall time holds both."""
    seconds = sum(sum(r.epoch_seconds) for r in runs)
    images = sum(r.images for r in runs)
    total_flops = sum(run_flops(r, step_flops, val_images) for r in runs)
    report = {"name": name, "images_per_s": images / seconds, "seconds": round(seconds, 4),
              "images": images, "gflop_per_s": total_flops / seconds / 1e9}
    for dtype in ("bf16", "fp32"):
        rate = gemm.get(dtype)
        report[f"fraction_of_{dtype}_gemm"] = (report["gflop_per_s"] / rate) if rate else None
    if len(runs) == 1:
        r = runs[0]
        reached = next((sum(r.epoch_seconds[:i + 1]) for i, a in enumerate(r.val_acc)
                        if a >= target), None)
        report.update(seconds_per_epoch=[round(s, 4) for s in r.epoch_seconds],
                      val_acc=[round(a, 4) for a in r.val_acc],
                      seconds_to_target=None if reached is None else round(reached, 1))
    else:
        report["networks"] = {
            r.network: {"images_per_s": r.images / sum(r.epoch_seconds),
                        "seconds": round(sum(r.epoch_seconds), 4),
                        "seconds_per_epoch": [round(s, 4) for s in r.epoch_seconds],
                        "gflop_per_s": run_flops(r, step_flops, val_images)
                        / sum(r.epoch_seconds) / 1e9,
                        "val_acc": [round(a, 4) for a in r.val_acc],
                        "train_loss": [round(v, 4) for v in r.train_loss]}
            for r in runs}
        report["val_acc"] = [round(float(np.mean([r.val_acc[i] for r in runs])), 4)
                             for i in range(min(len(r.val_acc) for r in runs))]
        report["val_acc_is"] = "mean over the networks, per epoch"
    return report


# --------------------------------------------------------------------------- PyTorch
def torch_model_factory(args, spec=None):
    from d2l_resnet import torch as d2l_torch

    if spec is None:
        return lambda: d2l_torch.ResNet("ResNet-18", 10, 1, lr=args.lr)
    return lambda: d2l_torch.ResNet(spec, num_classes=10, in_channels=1, lr=args.lr)


def torch_baseline(arrays, args, make_model=None, name=None):
    import torch
    from PIL import Image
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, Dataset

    from d2l_resnet import torch as d2l_torch

    make_model = make_model or torch_model_factory(args)

    class Resized(Dataset):  # D2L: transforms.Resize + ToTensor, per image, in the loader
        def __init__(self, images, labels):
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            img = Image.fromarray(self.images[i])
            if img.size != (args.resize, args.resize):
                img = img.resize((args.resize, args.resize), Image.BILINEAR)
            x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).unsqueeze(0)
            return x, int(self.labels[i])

    d2l_torch.seed_everything(args.seed)
    device = d2l_torch.try_gpu()
    train = DataLoader(Resized(*arrays[:2]), batch_size=args.batch_size, shuffle=True)
    val = DataLoader(Resized(*arrays[2:]), batch_size=args.batch_size)
    model = make_model().to(device)
    model.eval()
    with torch.no_grad():
        model(torch.zeros(2, 1, args.resize, args.resize, device=device))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    run = Run("baseline", name)
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        losses = []
        for X, y in train:
            X, y = X.to(device), y.to(device)
            loss = F.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())  # D2L plots every batch's loss: a sync per batch
            run.images += len(y)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for X, y in val:
                correct += (model(X.to(device)).argmax(1).cpu() == y).sum().item()
                total += len(y)
        run.epoch_seconds.append(time.perf_counter() - start)
        run.val_acc.append(correct / total)
        run.train_loss.append(float(np.mean(losses)))
    return run


def torch_library(arrays, args, make_model=None, name=None, data=None):
    from d2l_resnet import torch as d2l_torch

    d2l_torch.seed_everything(args.seed)
    data = data or torch_data(args)
    return _library_run(d2l_torch, make_model or torch_model_factory(args), data, name, args)


def torch_data(args):
    from d2l_resnet import torch as d2l_torch

    return d2l_torch.FashionMNIST(batch_size=args.batch_size, resize=args.resize,
                                  root=args.data, num_train=args.num_train,
                                  num_val=args.num_val, seed=args.seed)


def torch_flops(args, spec=None):
    return flops.torch_step_flops(torch_model_factory(args, spec), args.batch_size,
                                  (1, args.resize, args.resize))


# ------------------------------------------------------------------------ TensorFlow
def tf_model_factory(args, spec=None):
    from d2l_resnet import tensorflow as d2l_tf

    if spec is None:
        return lambda: d2l_tf.ResNet("ResNet-18", 10, 1, lr=args.lr)
    return lambda: d2l_tf.ResNet(spec, num_classes=10, in_channels=1, lr=args.lr)


def tf_baseline(arrays, args, make_model=None, name=None):
    import tensorflow as tf

    from d2l_resnet import tensorflow as d2l_tf

    make_model = make_model or tf_model_factory(args)
    d2l_tf.seed_everything(args.seed)

    def loader(images, labels, train):  # D2L: batch, then shuffle batches, resize per batch
        ds = tf.data.Dataset.from_tensor_slices(
            (images[..., None].astype(np.float32) / 255, labels.astype(np.int32)))
        ds = ds.batch(args.batch_size)
        if train:
            ds = ds.shuffle(len(labels))
        return ds.map(lambda X, y: (tf.image.resize_with_pad(X, args.resize, args.resize), y))

    train, val = loader(*arrays[:2], True), loader(*arrays[2:], False)
    model = make_model()
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    opt = tf.keras.optimizers.SGD(learning_rate=args.lr)
    run = Run("baseline", name)
    for _ in range(args.epochs):
        start = time.perf_counter()
        losses = []
        for X, y in train:  # eager, as D2L's TensorFlow trainer runs
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(X, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(float(loss))
            run.images += int(y.shape[0])
        correct = total = 0
        for X, y in val:
            correct += int(tf.reduce_sum(tf.cast(
                tf.argmax(model(X, training=False), 1, output_type=tf.int32) == y, tf.int32)))
            total += int(y.shape[0])
        run.epoch_seconds.append(time.perf_counter() - start)
        run.val_acc.append(correct / total)
        run.train_loss.append(float(np.mean(losses)))
    return run


def tf_library(arrays, args, make_model=None, name=None, data=None):
    from d2l_resnet import tensorflow as d2l_tf

    d2l_tf.seed_everything(args.seed)
    data = data or tf_data(args)
    return _library_run(d2l_tf, make_model or tf_model_factory(args), data, name, args)


def tf_data(args):
    from d2l_resnet import tensorflow as d2l_tf

    return d2l_tf.FashionMNIST(batch_size=args.batch_size, resize=args.resize,
                               root=args.data, num_train=args.num_train,
                               num_val=args.num_val, seed=args.seed)


def tf_flops(args, spec=None):
    return flops.tf_step_flops(tf_model_factory(args, spec), args.batch_size,
                               (args.resize, args.resize, 1))


def _library_run(fw, make_model, data, name, args):
    model = make_model()
    trainer = fw.Trainer(max_epochs=args.epochs, plot=False, progress=False)
    history = trainer.fit(model, data)  # one call, as the book's training cells make it
    run = Run("library", name)
    run.epoch_seconds = history.epoch_seconds
    run.val_acc = history.val_acc
    run.images = history.train_images
    run.train_loss = history.train_loss
    return run


# ------------------------------------------------------------------------------- JAX
def _jax_bench():
    try:
        return importlib.import_module("jax_bench")
    except ModuleNotFoundError as e:
        if e.name == "jax_bench":
            raise SystemExit(
                "--framework jax needs bench/jax_bench.py (jax_baseline, jax_library, "
                "jax_step_flops), which is not there yet") from None
        raise SystemExit(f"--framework jax: bench/jax_bench.py needs {e.name!r}, which "
                         f"is not installed ({e})") from None


def jax_model_factory(args, spec=None):
    return _jax_bench().model_factory(args, spec)


def jax_baseline(arrays, args, make_model=None, name=None):
    return Run.from_dict("baseline", _jax_bench().jax_baseline(arrays, args, make_model),
                         name)


def jax_library(arrays, args, make_model=None, name=None, data=None):
    return Run.from_dict("library", _jax_bench().jax_library(arrays, args, make_model, data),
                         name)


def jax_data(args):
    return _jax_bench().jax_data(args)


def jax_flops(args, spec=None):
    # jax_step_flops: FLOPs of one training step on a whole batch.
    train, evaluation = _jax_bench().jax_step_flops(args.batch_size, args.resize,
                                                    jax_model_factory(args, spec))
    return {"train": train / args.batch_size, "eval": evaluation / args.batch_size}


PLANS = {
    "torch": dict(baseline=torch_baseline, library=torch_library, flops=torch_flops,
                  data=torch_data, models=torch_model_factory, counter="torch.utils.flop_counter"),
    "tensorflow": dict(baseline=tf_baseline, library=tf_library, flops=tf_flops,
                       data=tf_data, models=tf_model_factory,
                       counter="traced tf.function graph "
                               "(d2l_resnet.tensorflow.utils.graph_flops)"),
    "jax": dict(baseline=jax_baseline, library=jax_library, flops=jax_flops, data=jax_data,
                models=jax_model_factory,
                counter="XLA cost analysis of each convolution and matrix product in the "
                        "step's jaxpr (bench/jax_bench.py: jax_step_flops)"),
}


def degradation_specs(selection=None):
    """The degradation page's five networks, in the page's order."""
    from d2l_resnet.variants import cifar_variant

    specs = [cifar_variant(20, shortcuts=False), cifar_variant(20),
             cifar_variant(56, shortcuts=False), cifar_variant(56),
             cifar_variant(56, preact=True)]
    if selection:
        names = [s.strip() for s in selection.split(",") if s.strip()]
        unknown = set(names) - {s.name for s in specs}
        if unknown:
            raise SystemExit(f"--networks: unknown {sorted(unknown)}; choose from "
                             f"{[s.name for s in specs]}")
        specs = [s for s in specs if s.name in names]
    return specs


def run_framework(fw, arrays, args):
    """Baseline and library runs of one framework, with GEMM rates before and after."""
    plan = PLANS[fw]
    gemm_before = {} if args.no_gemm else flops.gemm_rates(n=args.gemm_size)
    if args.case == "resnet18":
        networks = [(None, "ResNet-18")]
    else:
        networks = [(s, s.name) for s in degradation_specs(args.networks)]
    step_flops = {name: plan["flops"](args, spec) for spec, name in networks}
    data = plan["data"](args) if plan["data"] and args.case == "degradation" else None
    runs = {"baseline": [], "library": []}
    for spec, name in networks:
        make = plan["models"](args, spec) if plan["models"] else None
        runs["baseline"].append(plan["baseline"](arrays, args, make, name))
        kwargs = {"data": data} if data is not None else {}
        runs["library"].append(plan["library"](arrays, args, make, name, **kwargs))
        for which in ("baseline", "library"):
            r = runs[which][-1]
            print(f"[{fw:10s}] {which:8s} {name:16s} {r.images / sum(r.epoch_seconds):7.1f} "
                  f"img/s  s/epoch {[round(s, 1) for s in r.epoch_seconds]}  "
                  f"val_acc {[round(a, 3) for a in r.val_acc]}", flush=True)
    gemm_after = {} if args.no_gemm else flops.gemm_rates(n=args.gemm_size)
    gemm = {k: (gemm_before[k] + gemm_after[k]) / 2 for k in gemm_before}
    val_images = min(args.num_val, len(arrays[3]))
    reports = {which: summarize(which, rs, step_flops, gemm, args.target_acc, val_images)
               for which, rs in runs.items()}
    base, lib = reports["baseline"], reports["library"]
    ratio = lib["images_per_s"] / base["images_per_s"]
    lib["ratio_to_baseline"] = ratio
    base["ratio_to_baseline"] = 1.0
    for r in (base, lib):
        frac = r["fraction_of_bf16_gemm"]
        print(f"[{fw:10s}] {r['name']:8s} {r['images_per_s']:7.1f} img/s  "
              f"{r['gflop_per_s']:6.1f} GFLOP/s  "
              f"{'' if frac is None else f'{100 * frac:4.1f}% of bf16 GEMM  '}"
              f"val_acc {r['val_acc']}", flush=True)
    print(f"[{fw:10s}] library/baseline: {ratio:.2f}x images/s; bf16 GEMM "
          f"{gemm.get('bf16', float('nan')):.0f} GFLOP/s, fp32 "
          f"{gemm.get('fp32', float('nan')):.0f} GFLOP/s", flush=True)
    return {
        "case": args.case, "framework": fw,
        "command": shlex.join([os.path.relpath(sys.argv[0]) if sys.argv[0] else "",
                               *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": flops.machine(),
        "versions": flops.versions("torch", "tensorflow", "keras", "jax", "jaxlib",
                                   "flax", "numpy"),
        "config": {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "resize",
                                                 "num_train", "num_val", "seed")}
        | {"networks": [name for _, name in networks]},
        "gemm_gflop_per_s": gemm,
        "gemm": f"torch.matmul of two {args.gemm_size}x{args.gemm_size} matrices, best of "
                f"3 trials, mean of before and after the framework's runs",
        "gemm_samples": {"before": gemm_before, "after": gemm_after},
        "step_gflop_per_image": {name: {k: (None if v is None else v / 1e9)
                                        for k, v in f.items()}
                                 for name, f in step_flops.items()},
        "flop_counter": plan["counter"],
        "baseline": base, "library": lib, "speedup": ratio,
    }


def resummarize(path):
    """Recounts a result file's FLOPs and redoes its summaries from its stored timings."""
    with open(path) as f:
        result = json.load(f)
    fw, config = result["framework"], result["config"]
    args = parse_args(["--case", result["case"], "--framework", fw])
    for key, value in config.items():
        if key != "networks":
            setattr(args, key, value)
    specs = ({None: "ResNet-18"} if result["case"] == "resnet18" else
             {s: s.name for s in degradation_specs(",".join(config["networks"]))})
    step_flops = {name: PLANS[fw]["flops"](args, spec) for spec, name in specs.items()}
    for which in ("baseline", "library"):
        report, runs = result[which], []
        per_net = report.get("networks") or {config["networks"][0]: report}
        for name, r in per_net.items():
            run = Run(which, name)
            run.epoch_seconds = list(r["seconds_per_epoch"])
            run.val_acc = list(r["val_acc"])
            run.train_loss = list(r.get("train_loss", []))
            run.images = round(r["images_per_s"] * sum(run.epoch_seconds)) \
                if "networks" in report else report["images"]
            runs.append(run)
        new = summarize(which, runs, step_flops, result["gemm_gflop_per_s"],
                        report.get("target_acc", args.target_acc), config["num_val"])
        new["ratio_to_baseline"] = report["ratio_to_baseline"]
        result[which] = new
    result["step_gflop_per_image"] = {name: {k: (None if v is None else v / 1e9)
                                             for k, v in f.items()}
                                      for name, f in step_flops.items()}
    result["flop_counter"] = PLANS[fw]["counter"]
    result["resummarized"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
    for r in (result["baseline"], result["library"]):
        print(f"[{fw:10s}] {path}: {r['name']:8s} {r['images_per_s']:7.1f} img/s "
              f"{r['gflop_per_s']:6.1f} GFLOP/s {100 * r['fraction_of_bf16_gemm']:4.1f}% "
              f"of bf16 GEMM")


def main(argv=None):
    args = parse_args(argv)
    if args.resummarize:
        for path in args.resummarize:
            resummarize(path)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from d2l_resnet.data import load_fashion_mnist

    full = load_fashion_mnist(args.data)
    arrays = (full.train_images[:args.num_train], full.train_labels[:args.num_train],
              full.val_images[:args.num_val], full.val_labels[:args.num_val])
    print(f"{args.case}: {full.source}; using {len(arrays[1]):,} training and "
          f"{len(arrays[3]):,} validation images at {args.resize}x{args.resize}, batch "
          f"{args.batch_size}, {args.epochs} epochs, lr {args.lr}, seed {args.seed}",
          flush=True)
    chosen = {"both": ["torch", "tensorflow"], "all": list(FRAMEWORKS)}.get(
        args.framework, [args.framework])
    results = {}
    for fw in chosen:
        results[fw] = run_framework(fw, arrays, args)
        if args.results_dir:
            os.makedirs(args.results_dir, exist_ok=True)
            path = os.path.join(args.results_dir, f"{args.case}-{fw}.json")
            with open(path, "w") as f:
                json.dump(results[fw], f, indent=2)
            print(f"[{fw:10s}] wrote {path}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
