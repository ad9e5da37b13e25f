"""Where the library's Trainer spends its time: the top ops of one ``fit`` call.

Profiles ``Trainer.fit`` as the book's pages call it (a fresh model, one call), after
a warm-up fit of the same network in the same process, so that one-time costs of the
process (imports, kernel JIT) are left out but the per-page costs (TensorFlow's
tracing and graph optimization) are in. PyTorch: ``torch.profiler``, ops by self CPU
time. TensorFlow: the TF profiler's host trace, ops by kernel time (both of
TensorFlow's inter-op threads), plus the time spent tracing ``tf.function``s. JAX:
``jax.profiler``'s host trace, XLA's ops by time, each classified from the compiled HLO
(convolution, matrix product, layout change, reduction, elementwise) with the FLOPs it
computes, so that the table says how fast each kind runs against the GEMM rates
measured in the same process; plus compilation time.
Prints a table and writes ``bench/results/profile-<case>-<framework>[-<network>].json``.

    python bench/profile_step.py --framework tensorflow --case degradation --network Plain-56
    python bench/profile_step.py --framework torch --case resnet18
    python bench/profile_step.py --framework jax --case resnet18
    python bench/profile_step.py ... --src /tmp/old/src   # profile another copy of the library
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import math
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
    p.add_argument("--framework", choices=["torch", "tensorflow", "jax"], required=True)
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
    p.add_argument("--gemm-size", type=int, default=2048,
                   help="JAX: size of the GEMMs that give the machine's rates")
    p.add_argument("--all-cores", action="store_true",
                   help="JAX: run on every core (op times then overlap); default: one")
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
        return lambda: fw.ResNet("ResNet-18", 10, 1, lr=args.lr)
    specs = {s.name: s for s in (cifar_variant(20, shortcuts=False), cifar_variant(20),
                                 cifar_variant(56, shortcuts=False), cifar_variant(56),
                                 cifar_variant(56, preact=True))}
    spec = specs[args.network]
    return lambda: fw.ResNet(spec, num_classes=10, in_channels=1, lr=args.lr)


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


def covered_ms(intervals):
    """Milliseconds covered by a union of (possibly nested) picosecond intervals."""
    out, end = 0.0, -1.0
    for a, b in sorted(intervals):
        if b > end:
            out += b - max(a, end)
            end = b
    return out / 1e9


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


# ------------------------------------------------------------------------------- JAX
# With the CPU backend, XLA's ops are events on the host threads that run them, named
# after their HLO instruction; what each one computes is in the compiled HLO module,
# which the trace carries with enable_hlo_proto. XProf's op-profile and HLO-stats tools
# are built from device planes (GPU, TPU) and this trace has none, so we sum the events
# and read the HLO here.
def _module_ops(module):
    """``{instruction name: (kind, GFLOP, what)}`` for the entry computation of an
    ``HloModuleProto``: each top-level op (a fusion counts with what it fuses)."""
    comps = {c.id: c for c in module.computations}
    by_id = {i.id: i for c in module.computations for i in c.instructions}

    def inside(ins):
        for cid in ins.called_computation_ids:
            for sub in comps[cid].instructions:
                yield sub
                yield from inside(sub)

    def flops(ins):  # 2 per multiply-add, zero padding included
        out = math.prod(ins.shape.dimensions)
        if ins.opcode == "convolution":
            rhs = by_id[ins.operand_ids[1]].shape.dimensions
            cin = rhs[ins.convolution_dimension_numbers.kernel_input_feature_dimension]
            # An input gradient of a strided convolution dilates its input with zeros
            # (base dilation); only one tap in prod(dilation) meets a real value, and
            # only those count, as in the forward convolution and PyTorch's counter.
            taps = math.prod(d.size / d.base_dilation for d in ins.window.dimensions)
            return 2 * out * cin * taps
        if ins.opcode == "dot":
            lhs = by_id[ins.operand_ids[0]].shape.dimensions
            contracted = ins.dot_dimension_numbers.lhs_contracting_dimensions
            return 2 * out * math.prod(lhs[d] for d in contracted)
        return 0

    table = {}
    entry = comps[module.entry_computation_id]
    # A kernel gradient's output has the shape of a kernel, in some order of the axes.
    kernels = {tuple(sorted(i.shape.dimensions)) for i in entry.instructions
               if i.opcode == "parameter" and len(i.shape.dimensions) == 4}
    for ins in entry.instructions:
        if ins.opcode in ("parameter", "constant", "tuple", "get-tuple-element", "bitcast"):
            continue
        parts = [ins, *inside(ins)]
        opcodes = {p.opcode for p in parts}
        # YNNPACK runs the fusions XLA hands it (custom fusions named ynn_*); other
        # convolutions and dots are XLA's own thunks (Eigen), the rest XLA's loops.
        lib = "YNNPACK" if ins.name.startswith("ynn") else "XLA/Eigen"
        heavy = [p for p in parts if p.opcode in ("convolution", "dot")]
        if heavy:
            p = heavy[0]
            if tuple(sorted(p.shape.dimensions)) in kernels:
                role = "kernel gradient"
            elif "transpose(" in p.metadata.op_name:  # JAX's name for the backward pass
                role = "input gradient"
            else:
                role = "forward"
            more = f" and {len(heavy) - 1} more" if len(heavy) > 1 else ""
            if p.opcode == "convolution":
                window = "x".join(str(d.size) for d in p.window.dimensions)
                kind = f"convolution, {role} ({lib})"
                what = f"conv {window} -> {list(p.shape.dimensions)}{more}"
            else:
                kind = f"matrix product ({lib})"
                what = f"dot -> {list(p.shape.dimensions)}{more}"
        elif opcodes & {"transpose", "copy"}:  # layout changes, alone or fused
            kind, what = "transpose / copy (layout)", ins.name.split(".")[0]
        elif opcodes & {"reduce", "reduce-window", "select-and-scatter", "scatter"}:
            kind, what = f"reduction ({lib})", ins.name.split(".")[0]
        else:
            kind, what = "elementwise", ins.name.split(".")[0]
        table[ins.name] = (kind, sum(flops(p) for p in parts) / 1e9, what)
    return table


def _int(stat):  # an XStat's integer, whichever of its two fields holds it
    return stat.uint64_value or stat.int64_value


def _jax_trace(logdir):
    """Parse the XPlane a ``jax.profiler.trace`` wrote into ``logdir``: XLA op events
    per (program, op) with their total time, and the HLO table of every program."""
    from tensorflow.compiler.xla.service import hlo_pb2
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "plugins/profile/*/*.xplane.pb")))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    programs = {}  # program id -> (module name, op table)
    meta = next(p for p in space.planes if p.name == "/host:metadata")
    for em in meta.event_metadata.values():
        stats = {meta.stat_metadata[st.metadata_id].name: st for st in em.stats}
        if "Hlo Proto" in stats and "program_id" in stats:
            proto = hlo_pb2.HloProto()
            proto.ParseFromString(stats["Hlo Proto"].bytes_value)
            programs[_int(stats["program_id"])] = (proto.hlo_module.name,
                                                   _module_ops(proto.hlo_module))
    plane = next(p for p in space.planes if p.name == "/host:CPU")
    names = {k: v.name for k, v in plane.stat_metadata.items()}
    ms, calls = collections.Counter(), collections.Counter()
    python = collections.defaultdict(list)
    for line in plane.lines:
        for e in line.events:
            stats = {names.get(s.metadata_id): s for s in e.stats}
            if "hlo_op" in stats and "program_id" in stats:
                key = (_int(stats["program_id"]), plane.event_metadata[e.metadata_id].name)
                ms[key] += e.duration_ps / 1e9
                calls[key] += 1
            elif line.name == "python":
                start = line.timestamp_ns * 1e3 + e.offset_ps
                python[plane.event_metadata[e.metadata_id].name].append(
                    (start, start + e.duration_ps))
    return programs, ms, calls, python


def profile_jax(args):
    if not args.all_cores:
        # On two cores XLA runs independent ops side by side and Eigen's convolutions
        # asynchronously, so an op's event ends before its work does and the times do
        # not add up. On one core (as a notebook kernel under pytest -n 2 runs) they
        # do. Pinned before JAX starts: XLA sizes its thread pools from the mask.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import jax

    from d2l_resnet import jax as fw

    sys.path.insert(0, HERE)
    from flops import gemm_rates

    data = fw.FashionMNIST(batch_size=args.batch_size, resize=args.resize, root=args.data,
                           num_train=args.num_train, num_val=args.num_val)
    make = make_factory(fw, args)
    if not args.no_warmup:
        fit(fw, make, data, args)
    options = jax.profiler.ProfileOptions()
    options.python_tracer_level = 0  # Python calls would flood the trace
    options.enable_hlo_proto = True  # what each op computes
    logdir = tempfile.mkdtemp(prefix="jaxprof-")
    with jax.profiler.trace(logdir, profiler_options=options):
        wall, history = fit(fw, make, data, args)
    gemm = gemm_rates(n=args.gemm_size)
    programs, ms, calls, python = _jax_trace(logdir)

    rows, kinds = [], collections.defaultdict(lambda: [0.0, 0.0, 0])
    for (program, op), t in ms.items():
        module, table = programs.get(program, ("?", {}))
        kind, gflop, what = table.get(op, ("other", 0.0, op))
        kinds[kind][0] += t
        kinds[kind][1] += gflop * calls[(program, op)]
        kinds[kind][2] += calls[(program, op)]
        rows.append((f"{module}/{op}", t, calls[(program, op)], kind, gflop, what))
    rows.sort(key=lambda r: -r[1])
    total = sum(ms.values())

    def rate(gflop, t_ms):
        return gflop / (t_ms / 1e3) if t_ms else 0.0

    def speed(t_ms, gflop):  # time, work, and speed against the machine's GEMM rates
        return {"ms": round(t_ms, 1), "gflop": round(gflop, 2),
                "gflop_per_s": round(rate(gflop, t_ms), 1),
                **{f"fraction_of_{dt}_gemm": round(rate(gflop, t_ms) / gemm[dt], 4)
                   for dt in ("fp32", "bf16")}}

    overall = speed(total, sum(g for _, g, _ in kinds.values()))
    kind_rows = [{"kind": k, **speed(t, g), "share": round(t / total, 4), "calls": n}
                 for k, (t, g, n) in sorted(kinds.items(), key=lambda kv: -kv[1][0])]
    top = []
    for name, t, n, kind, gflop, what in rows[:args.top]:
        top.append({"op": name, "ms": round(t, 1), "share": round(t / total, 4), "calls": n,
                    "kind": kind, "what": what, "gflop": round(gflop * n, 3),
                    "gflop_per_s": round(rate(gflop * n, t), 1)})

    phases = {"XLA compilation": covered_ms(python.get("backend_compile_and_load", [])),
              "lowering to HLO": covered_ms(python.get("lower_sharding_computation", []))}
    return {"wall_s": wall, "epoch_seconds": history.epoch_seconds, "op_ms_total": total,
            "phases_ms": {k: round(v, 1) for k, v in phases.items()},
            "cores": len(os.sched_getaffinity(0)), "gemm_gflop_per_s": gemm,
            "all_ops": overall, "kinds": kind_rows, "top_ops": top}


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, os.path.abspath(args.src))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    profiler = {"torch": profile_torch, "tensorflow": profile_tf, "jax": profile_jax}
    result = profiler[args.framework](args)
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
    if "kinds" in result:
        print(f"  GEMM rates in this process: {result['gemm_gflop_per_s']['bf16']:.0f} "
              f"GFLOP/s bf16, {result['gemm_gflop_per_s']['fp32']:.0f} fp32")
        for r in [{"kind": "all XLA ops", **result["all_ops"], "share": 1.0},
                  *result["kinds"]]:
            rate = (f"{r['gflop_per_s']:6.1f} GFLOP/s ({100 * r['fraction_of_fp32_gemm']:4.1f}%"
                    f" of fp32 GEMM, {100 * r['fraction_of_bf16_gemm']:4.1f}% of bf16)"
                    if r["gflop"] else "")
            print(f"  {r['kind'][:40]:40s} {r['ms']:9.1f} ms {100 * r['share']:5.1f}%  {rate}")
    for r in result["top_ops"]:
        rate = f"  {r['gflop_per_s']:6.1f} GFLOP/s  {r['what']}" if r.get("gflop") else ""
        print(f"  {r['op'][:48]:48s} {r['ms']:9.1f} ms {100 * r['share']:5.1f}%  "
              f"{r['calls']:6d} calls{rate}")
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
