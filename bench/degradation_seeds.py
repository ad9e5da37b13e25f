"""How much the claims of the degradation page depend on the random seed.

Gradient norms (default): for each seed, ``seed_everything(seed)``, then fresh
Plain-20, ResNet-20, Plain-56 and ResNet-56 networks, built in that order as on the
page, get one forward and backward pass on the page's first batch of 32 training
images; we record the ratios first/last and max/last of their per-convolution
gradient norms.

Training (``--train``): the page's full training run (five networks, three epochs on
2,048 images, batches of 32, lr 0.02, ``seed_everything(seed)`` before each
network), the last-epoch training losses, the first batch losses, and the lesion
experiment (every deletable block deleted in turn) on the four trained networks
without pre-activation, with its wall time.

``--sizes BATCH TRAIN VAL`` repeats either study with other sizes than the full run's
(32, 2048, 1024): ``--sizes 16 1024 512`` is the reduced run that ``degradation_config``
gives every framework on a CPU. Such results are kept under
``"<framework> BATCH/TRAIN/VAL"``.

Results are merged into ``bench/results/degradation-seeds.json``. Run heavy jobs as
``flock /tmp/bench.lock nice -n 5 python bench/degradation_seeds.py --train``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from d2l_resnet.variants import cifar_variant

RESULTS = Path(__file__).parent / "results" / "degradation-seeds.json"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
SPECS = [cifar_variant(20, shortcuts=False), cifar_variant(20),
         cifar_variant(56, shortcuts=False), cifar_variant(56),
         cifar_variant(56, preact=True)]
LESIONED = ("Plain-20", "ResNet-20", "Plain-56", "ResNet-56")


def framework(name):
    """The library's package and a function that takes the first N validation images."""
    if name == "torch":
        import torch

        from d2l_resnet import torch as m

        def val_subset(data, n):
            batches, count = [], 0
            for X, y in data.val_dataloader():
                batches.append((X, y))
                count += len(y)
                if count >= n:
                    break
            return (torch.cat([b[0] for b in batches])[:n],
                    torch.cat([b[1] for b in batches])[:n])
    elif name == "jax":
        import jax.numpy as jnp

        from d2l_resnet import jax as m

        def val_subset(data, n):
            batches = []
            for X, y in data.val_dataloader():
                batches.append((X, y))
                if sum(len(b[1]) for b in batches) >= n:
                    break
            return (jnp.concatenate([b[0] for b in batches])[:n],
                    jnp.concatenate([b[1] for b in batches])[:n])
    else:
        from d2l_resnet import tensorflow as m

        def val_subset(data, n):
            return next(iter(data.val_dataloader().unbatch().batch(n)))
    return m, val_subset


PAGE = dict(batch_size=32, num_train=2048, num_val=1024)


def page_data(m, sizes=PAGE):
    return m.FashionMNIST(resize=28, **sizes)


def gradient_ratios(fw: str, seeds, sizes=PAGE) -> dict:
    m, _ = framework(fw)
    m.seed_everything(0)
    data = page_data(m, sizes)
    X, y = next(iter(data.train_dataloader()))
    out = {}
    for seed in seeds:
        m.seed_everything(seed)
        row = {}
        for spec in SPECS[:4]:
            norms = np.asarray(m.gradient_norms(
                m.ResNet(spec, num_classes=10, in_channels=1), X, y))
            row[spec.name] = {"first/last": float(norms[0] / norms[-1]),
                              "max/last": float(norms.max() / norms[-1])}
        out[str(seed)] = row
        print(fw, seed, {k: tuple(round(v, 1) for v in r.values()) for k, r in row.items()},
              flush=True)
    return out


def train_runs(fw: str, seeds, lesion_images: int, sizes=PAGE) -> dict:
    m, val_subset = framework(fw)
    out = {}
    for seed in seeds:
        m.seed_everything(seed)  # as on the page: one data object for all networks
        data = page_data(m, sizes)
        next(iter(data.train_dataloader()))  # the page draws the gradients' batch
        X_val, y_val = val_subset(data, lesion_images)
        row = {"final": {}, "val_acc": {}, "first_batches": {}, "seconds": {}, "lesion": {}}
        for spec in SPECS:
            m.seed_everything(seed)
            model = m.ResNet(spec, num_classes=10, in_channels=1, lr=0.02)
            history = m.Trainer(max_epochs=3, plot=False, progress=False).fit(model, data)
            row["final"][spec.name] = history.train_loss[-1]
            row["val_acc"][spec.name] = history.val_acc[-1]
            row["first_batches"][spec.name] = history.batch_loss[:32]
            row["seconds"][spec.name] = history.seconds
            if spec.name in LESIONED:
                start = time.perf_counter()
                result = m.lesion_accuracies(model, X_val, y_val)
                result["seconds"] = time.perf_counter() - start
                result["images"] = lesion_images
                row["lesion"][spec.name] = result
                deleted = np.asarray(result["deleted"])
                print(f"{fw} seed {seed} {spec.name}: intact {result['intact']:.3f}, "
                      f"median deleted {np.nanmedian(deleted):.3f}, "
                      f"min {np.nanmin(deleted):.3f} ({result['seconds']:.1f} s)", flush=True)
        out[str(seed)] = row
        print(fw, seed, {k: round(v, 3) for k, v in row["final"].items()}, flush=True)
    return out


def gradient_table(results: dict) -> None:
    for fw, runs in results.items():
        print(f"\n{fw}: gradient-norm ratios at initialization, first/last (max/last)")
        names = [spec.name for spec in SPECS[:4]]
        print("seed  " + "".join(f"{n:>20}" for n in names))
        for seed, row in runs.items():
            cells = "".join(f"{row[n]['first/last']:>11.1f} ({row[n]['max/last']:>5.1f})"
                            for n in names)
            print(f"{seed:>4}  {cells}")
        for key in ("first/last", "max/last"):
            span = {n: (min(r[n][key] for r in runs.values()),
                        max(r[n][key] for r in runs.values())) for n in names}
            print(f"{key:>10}: " + ", ".join(f"{n} {a:.1f}..{b:.1f}"
                                               for n, (a, b) in span.items()))


def train_table(results: dict) -> None:
    for fw, runs in results.items():
        print(f"\n{fw}: training loss of the last epoch")
        names = [spec.name for spec in SPECS]
        print("seed  " + "".join(f"{n:>16}" for n in names) + "   margins of the asserts")
        for seed, row in runs.items():
            f = row["final"]
            margins = (f["Plain-56"] - f["Plain-20"], f["ResNet-56"] - f["ResNet-20"],
                       f["Plain-56"] - f["ResNet-56"], f["Plain-56"] - f["PreActResNet-56"])
            print(f"{seed:>4}  " + "".join(f"{f[n]:>16.3f}" for n in names)
                  + "   " + " ".join(f"{v:+.3f}" for v in margins))


def main():
    import bookenv  # the notebooks' environment: quiet TensorFlow, the data offline

    bookenv.configure()
    os.environ.pop("MPLBACKEND", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="run the training runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--frameworks", nargs="+", default=["torch", "tensorflow"],
                        choices=["torch", "tensorflow", "jax"])
    parser.add_argument("--lesion-images", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs=3, metavar=("BATCH", "TRAIN", "VAL"),
                        help="batch size and numbers of training and validation images, "
                             f"if not the page's {tuple(PAGE.values())}; the results are "
                             "kept under '<framework> BATCH/TRAIN/VAL'")
    args = parser.parse_args()
    sizes = PAGE if args.sizes is None else dict(zip(PAGE, args.sizes))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = f"{platform.processor() or platform.machine()}, {platform.node()}"
    key = "training" if args.train else "gradients"
    seeds = args.seeds if args.seeds is not None else ([0, 1, 2] if args.train else range(10))
    section = results.setdefault(key, {})
    for fw in args.frameworks:
        key_fw = fw if sizes == PAGE else f"{fw} {'/'.join(map(str, sizes.values()))}"
        if args.train:
            section.setdefault(key_fw, {}).update(
                train_runs(fw, seeds, args.lesion_images, sizes))
        else:
            section.setdefault(key_fw, {}).update(gradient_ratios(fw, seeds, sizes))
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    if "gradients" in results:
        gradient_table(results["gradients"])
    if "training" in results:
        train_table(results["training"])


if __name__ == "__main__":
    main()
