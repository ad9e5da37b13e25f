"""TensorFlow with and without its oneDNN CPU kernels: the reason for TF_ENABLE_ONEDNN_OPTS.

TensorFlow turns oneDNN on by default only on CPUs with AVX512-VNNI, AVX512-BF16 or
AMX; elsewhere it runs its own (Eigen) convolutions. ``d2l_resnet.tensorflow`` sets
``TF_ENABLE_ONEDNN_OPTS=1`` unless the reader has set it (``runtime.TENSORFLOW_DEFAULTS``).
This script trains the training page's ResNet-18 with the library's Trainer in its
small configuration (48x48, batch 64, lr 0.05, the same seed) in two fresh
processes, the variable set to 0 and to 1, one after the other, each pinned to one
core as a notebook kernel is under ``pytest -n 2``. The yardstick is the fp32 GEMM
rate of that core (TensorFlow trains in fp32 on a CPU without fast bf16), measured in
this process before and after. Results: printed and written to
``bench/results/tensorflow-onednn.json``. Example:

    python bench/tensorflow_onednn.py --data ../shared/data/fashion-mnist-subset
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import flops  # bench/flops.py, next to this file

# Run in each child: one fit, then its time, losses and (with --flops) FLOPs per image.
CHILD = r"""
import json, sys, time
sys.path.insert(0, {here!r})
from d2l_resnet import tensorflow as d2l_tf
cfg = d2l_tf.training_config(size="small")
data = d2l_tf.FashionMNIST(batch_size=cfg.batch_size, resize=cfg.resize,
                           num_train={num_train}, num_val={num_val})
d2l_tf.seed_everything(0)
model = d2l_tf.ResNet("ResNet-18", 10, 1, lr=cfg.lr)
trainer = d2l_tf.Trainer(max_epochs={epochs}, plot=False, progress=False)
start = time.perf_counter()
history = trainer.fit(model, data)
seconds = time.perf_counter() - start
out = dict(seconds=seconds, bf16=trainer.dtype is not None, train_loss=history.train_loss,
           val_acc=history.val_acc, batch_size=cfg.batch_size, resize=cfg.resize)
if {count_flops}:
    import flops
    out["gflop_per_image"] = {{k: v / 1e9 for k, v in flops.tf_step_flops(
        lambda: d2l_tf.ResNet("ResNet-18", 10, 1, lr=cfg.lr), cfg.batch_size,
        (*cfg.resize, 1)).items()}}
print(json.dumps(out))
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="folder of the IDX files (D2L_RESNET_DATA)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--num-train", type=int, default=2048)
    p.add_argument("--num-val", type=int, default=1024)
    p.add_argument("--core", type=int, default=0, help="the core both runs are pinned to")
    p.add_argument("--gemm-size", type=int, default=2048, help="side of the GEMM yardstick")
    p.add_argument("--out", default=os.path.join(HERE, "results", "tensorflow-onednn.json"))
    return p.parse_args(argv)


def run_child(args, onednn: str, count_flops: bool) -> dict:
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, OMP_NUM_THREADS="1")
    if args.data:
        env["D2L_RESNET_DATA"] = os.path.abspath(args.data)
    code = CHILD.format(here=HERE, num_train=args.num_train, num_val=args.num_val,
                        epochs=args.epochs, count_flops=count_flops)
    proc = subprocess.run(["taskset", "-c", str(args.core), sys.executable, "-c", code],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"the run with TF_ENABLE_ONEDNN_OPTS={onednn} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    os.sched_setaffinity(0, {args.core})
    import torch

    torch.set_num_threads(1)
    before = flops.gemm_rate("fp32", n=args.gemm_size)
    runs = {"0": run_child(args, "0", False), "1": run_child(args, "1", True)}
    after = flops.gemm_rate("fp32", n=args.gemm_size)
    gemm = (before + after) / 2
    per_image = runs["1"]["gflop_per_image"]
    work = args.epochs * (args.num_train * per_image["train"] + args.num_val * per_image["eval"])
    for run in runs.values():
        run["gflop_per_s"] = work / run["seconds"]
        run["fraction_of_fp32_gemm"] = run["gflop_per_s"] / gemm
    result = {
        "command": "bench/tensorflow_onednn.py " + shlex.join(argv or sys.argv[1:]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": flops.machine(),
        "versions": flops.versions("tensorflow", "keras", "torch"),
        "config": dict(epochs=args.epochs, num_train=args.num_train, num_val=args.num_val,
                       batch_size=runs["1"]["batch_size"], resize=runs["1"]["resize"],
                       core=args.core),
        "gemm_fp32_gflop_per_s": {"before": before, "after": after},
        "gflop_per_image": per_image,
        "runs": {f"TF_ENABLE_ONEDNN_OPTS={k}": v for k, v in runs.items()},
        "speedup": runs["0"]["seconds"] / runs["1"]["seconds"],
    }
    for name, run in result["runs"].items():
        print(f"{name}: {run['seconds']:.1f} s, {run['gflop_per_s']:.1f} GFLOP/s "
              f"({run['fraction_of_fp32_gemm']:.1%} of the fp32 GEMM rate, {gemm:.1f}), "
              f"last loss {run['train_loss'][-1]:.3f}, val acc {run['val_acc'][-1]:.3f}")
    print(f"oneDNN on / off: {result['speedup']:.2f}x faster")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
