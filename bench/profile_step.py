"""Where the library's Trainer spends its time: the top ops of one ``fit`` call.

Profiles ``Trainer.fit`` as the book's pages call it (a fresh model, one call), after
a warm-up fit of the same network in the same process, so that one-time costs of the
process (imports, kernel JIT) are left out but the per-page costs (TensorFlow's
tracing and graph optimization) are in. PyTorch: ``torch.profiler``, ops by self CPU
time. TensorFlow: the TF profiler's host trace, ops by kernel time (both of
TensorFlow's inter-op threads), plus the time spent tracing ``tf.function``s.
Prints a table and writes ``bench/results/profile-<case>-<framework>[-<network>].json``.

    python bench/profile_step.py --framework tensorflow --case degradation --network Plain-56
    python bench/profile_step.py --framework torch --case resnet18
    python bench/profile_step.py ... --src /tmp/old/src   # profile another copy of the library
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "resnet18": dict(batch_size=128, lr=0.01, resize=96),
    "degradation": dict(batch_size=32, lr=0.02, resize=28),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framework", choices=["torch", "tensorflow"], required=True)
    p.add_argument("--case", choices=list(CASES), default="degradation")
    p.add_argument("--network", default="Plain-56",
                   help="degradation case: which of the page's networks")
    p.add_argument("--data", default=None)
    p.add_argument("--num-train", type=int, default=512)
    p.add_argument("--num-val", type=int, default=256)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--resize", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--no-warmup", action="store_true")
    p.add_argument("--src", default=os.path.join(HERE, "..", "src"),
                   help="the library's source folder (to compare two versions)")
    p.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    p.add_argument("--tag", default="", help="appended to the results file name")
    args = p.parse_args(argv)
    for key, value in CASES[args.case].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def make_factory(fw, args):
    from d2l_resnet.variants import cifar_variant

    if args.case == "resnet18":
        return lambda: fw.ResNet18(lr=args.lr)
    specs = {s.name: s for s in (cifar_variant(20, shortcuts=False), cifar_variant(20),
                                 cifar_variant(56, shortcuts=False), cifar_variant(56),
                                 cifar_variant(56, preact=True))}
    spec = specs[args.network]
    return lambda: fw.build_resnet(spec, num_classes=10, in_channels=1, lr=args.lr)


def fit(fw, make_model, data, args):
    fw.seed_everything(0)
    trainer = fw.Trainer(max_epochs=args.epochs, plot=False, progress=False)
    start = time.perf_counter()
    history = trainer.fit(make_model(), data)
    return time.perf_counter() - start, history


def rows_table(rows, total, top):
    out = []
    for name, ms, calls in rows[:top]:
        out.append({"op": name, "ms": round(ms, 1), "share": round(ms / total, 4),
                    "calls": calls})
    return out


# --------------------------------------------------------------------------- PyTorch
def profile_torch(args):
    from torch.profiler import ProfilerActivity, profile

    from d2l_resnet import torch as fw

    data = fw.FashionMNIST(batch_size=args.batch_size, resize=args.resize, root=args.data,
                           num_train=args.num_train, num_val=args.num_val)
    make = make_factory(fw, args)
    if not args.no_warmup:
        fit(fw, make, data, args)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall, history = fit(fw, make, data, args)
    events = prof.key_averages()
    rows = sorted(((e.key, e.self_cpu_time_total / 1e3, e.count) for e in events),
                  key=lambda r: -r[1])
    total = sum(r[1] for r in rows)
    return {"wall_s": wall, "epoch_seconds": history.epoch_seconds,
            "op_ms_total": total, "top_ops": rows_table(rows, total, args.top)}


# ------------------------------------------------------------------------ TensorFlow
def profile_tf(args):
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from d2l_resnet import tensorflow as fw

    data = fw.FashionMNIST(batch_size=args.batch_size, resize=args.resize, root=args.data,
                           num_train=args.num_train, num_val=args.num_val)
    make = make_factory(fw, args)
    if not args.no_warmup:
        fit(fw, make, data, args)
    logdir = tempfile.mkdtemp(prefix="tfprof-")
    tf.profiler.experimental.start(logdir)
    try:
        wall, history = fit(fw, make, data, args)
    finally:
        tf.profiler.experimental.stop()
    path = sorted(glob.glob(os.path.join(logdir, "plugins/profile/*/*.xplane.pb")))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    plane = next(p for p in space.planes if p.name == "/host:CPU")
    ms, calls = collections.Counter(), collections.Counter()
    python = collections.defaultdict(list)
    for line in plane.lines:
        for e in line.events:
            md = plane.event_metadata[e.metadata_id]
            if line.name.startswith("tf_Compute") and md.display_name:
                ms[md.display_name] += e.duration_ps / 1e9
                calls[md.display_name] += 1
            elif line.name == "python":
                start = line.timestamp_ns * 1e3 + e.offset_ps
                python[md.name].append((start, start + e.duration_ps))
    rows = sorted(((k, v, calls[k]) for k, v in ms.items()), key=lambda r: -r[1])
    total = sum(ms.values())

    def covered_ms(intervals):  # union of possibly nested intervals
        out, end = 0.0, -1.0
        for a, b in sorted(intervals):
            if b > end:
                out += b - max(a, end)
                end = b
        return out / 1e9

    phases = {
        "tracing (tf.function graph building)": covered_ms(
            python.get("tf.function-graph_building", [])),
        "function instantiation and graph optimization": max(0.0, covered_ms(
            [iv for k, v in python.items() if k.startswith("EagerLocalExecute") for iv in v])
            - covered_ms(python.get("EagerKernelExecute", []))),
    }
    return {"wall_s": wall, "epoch_seconds": history.epoch_seconds, "op_ms_total": total,
            "phases_ms": {k: round(v, 1) for k, v in phases.items()},
            "top_ops": rows_table(rows, total, args.top)}


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, os.path.abspath(args.src))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    result = (profile_torch if args.framework == "torch" else profile_tf)(args)
    network = "ResNet-18" if args.case == "resnet18" else args.network
    result = {"framework": args.framework, "case": args.case, "network": network,
              "src": os.path.abspath(args.src), "command": " ".join(sys.argv),
              "config": {k: getattr(args, k) for k in ("num_train", "num_val", "epochs",
                                                       "batch_size", "resize", "lr")},
              **result}
    print(f"{args.framework} {network}: fit {result['wall_s']:.2f} s (epochs "
          f"{[round(s, 2) for s in result['epoch_seconds']]}), op time "
          f"{result['op_ms_total']:.0f} ms")
    for k, v in result.get("phases_ms", {}).items():
        print(f"  {k}: {v:.0f} ms")
    for r in result["top_ops"]:
        print(f"  {r['op'][:48]:48s} {r['ms']:9.1f} ms {100 * r['share']:5.1f}%  "
              f"{r['calls']:6d} calls")
    if args.results_dir:
        os.makedirs(args.results_dir, exist_ok=True)
        suffix = "" if args.case == "resnet18" else f"-{network}"
        path = os.path.join(args.results_dir,
                            f"profile-{args.case}-{args.framework}{suffix}{args.tag}.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
