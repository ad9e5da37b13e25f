"""The speed benchmark runs end to end (on the tiny fixture, so in seconds)."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"
BENCH = BENCH_DIR / "train_speed.py"
TINY = ["--epochs", "2", "--num-train", "64", "--num-val", "32", "--gemm-size", "256"]


def run_bench(tmp_path, *args):
    out = tmp_path / "result.json"
    subprocess.run(
        [sys.executable, str(BENCH), *args, "--json", str(out),
         "--results-dir", str(tmp_path / "results")],
        check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.read_text())


@pytest.mark.parametrize("framework", ["torch", "tensorflow", "jax"])
def test_benchmark_reports_both_runs_and_the_ratio(framework, tiny_data_dir, tmp_path):
    results = run_bench(tmp_path, "--framework", framework, "--data", str(tiny_data_dir),
                        *TINY, "--resize", "32", "--batch-size", "32")
    result = results[framework]
    for run in ("baseline", "library"):
        report = result[run]
        assert len(report["seconds_per_epoch"]) == 2 and len(report["val_acc"]) == 2
        assert all(0 <= a <= 1 for a in report["val_acc"]) and report["images_per_s"] > 0
        # GFLOP/s = (training images x training FLOPs + evaluated images x evaluation
        # FLOPs) / wall time; the fraction of the GEMM rate measured in the same process.
        flops = result["step_gflop_per_image"]["ResNet-18"]
        work = report["images"] * flops["train"] + 2 * 32 * flops["eval"]
        assert report["gflop_per_s"] == pytest.approx(work / report["seconds"], rel=1e-2)
        assert report["fraction_of_bf16_gemm"] == pytest.approx(
            report["gflop_per_s"] / result["gemm_gflop_per_s"]["bf16"])
        assert 0 < report["fraction_of_fp32_gemm"]
    assert result["speedup"] == pytest.approx(
        result["library"]["images_per_s"] / result["baseline"]["images_per_s"])
    assert result["library"]["ratio_to_baseline"] == result["speedup"]
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
    assert framework in result["versions"] and "--framework" in result["command"]
    saved = json.loads((tmp_path / "results" / f"resnet18-{framework}.json").read_text())
    assert saved["library"] == result["library"]


def test_resummarize_recomputes_the_same_summary(tiny_data_dir, tmp_path):
    results = run_bench(tmp_path, "--case", "degradation", "--framework", "torch",
                        "--data", str(tiny_data_dir), *TINY, "--networks", "Plain-20")
    path = tmp_path / "results" / "degradation-torch.json"
    subprocess.run([sys.executable, str(BENCH), "--resummarize", str(path)], check=True,
                   capture_output=True, text=True, timeout=600)
    again = json.loads(path.read_text())
    assert "resummarized" in again
    for run in ("baseline", "library"):
        before, after = results["torch"][run], again[run]
        assert after["images"] == before["images"]
        assert after["gflop_per_s"] == pytest.approx(before["gflop_per_s"], rel=0.02)
        assert after["fraction_of_bf16_gemm"] == pytest.approx(
            before["fraction_of_bf16_gemm"], rel=0.02)


def test_degradation_case_times_each_network(tiny_data_dir, tmp_path):
    results = run_bench(tmp_path, "--case", "degradation", "--framework", "both",
                        "--data", str(tiny_data_dir), *TINY,
                        "--networks", "Plain-20,ResNet-20")
    for fw in ("torch", "tensorflow"):
        result = results[fw]
        assert result["config"]["batch_size"] == 32 and result["config"]["resize"] == 28
        assert result["config"]["networks"] == ["Plain-20", "ResNet-20"]
        for run in ("baseline", "library"):
            nets = result[run]["networks"]
            assert list(nets) == ["Plain-20", "ResNet-20"]
            assert all(len(n["val_acc"]) == 2 and n["images_per_s"] > 0 for n in nets.values())
            assert result[run]["images"] == 2 * 2 * 64
        assert (tmp_path / "results" / f"degradation-{fw}.json").exists()
    # Both frameworks count the same FLOPs for the same network.
    for name in ("Plain-20", "ResNet-20"):
        assert results["torch"]["step_gflop_per_image"][name] == pytest.approx(
            results["tensorflow"]["step_gflop_per_image"][name])


def test_flop_counters_agree_with_the_issue():
    """ResNet-18 at 96x96: 1.90 GFLOP per image and training step, in both frameworks."""
    sys.path.insert(0, str(BENCH_DIR))
    flops = importlib.import_module("flops")
    from d2l_resnet import torch as d2l_torch

    pt = flops.torch_step_flops(lambda: d2l_torch.ResNet("ResNet-18", 10, 1), 2, (1, 96, 96))
    assert pt["train"] / 1e9 == pytest.approx(1.897, abs=1e-3)
    assert pt["eval"] == pytest.approx(pt["train"] / 3, rel=0.01)
    pytest.importorskip("tensorflow")
    from d2l_resnet import tensorflow as d2l_tf

    assert flops.tf_step_flops(lambda: d2l_tf.ResNet("ResNet-18", 10, 1), 2, (96, 96, 1)) == pt


def test_jax_counts_the_flops_that_pytorch_counts():
    """Convolutions and matrix products of the training step, padding included: the
    same count as PyTorch's, but for the first convolution's input gradient, which
    PyTorch skips and the step's jaxpr still holds (under 3% on these networks)."""
    pytest.importorskip("jax")
    sys.path.insert(0, str(BENCH_DIR))
    flops = importlib.import_module("flops")
    jax_bench = importlib.import_module("jax_bench")
    from types import SimpleNamespace

    from d2l_resnet import torch as d2l_torch
    from d2l_resnet.variants import cifar_variant

    pt = flops.torch_step_flops(
        lambda: d2l_torch.ResNet("ResNet-18", 10, 1), 2, (1, 96, 96))["train"]
    train, evaluation = jax_bench.jax_step_flops(2, 96)  # per batch; PyTorch's per image
    assert pt < train / 2 < 1.03 * pt
    assert evaluation / 2 == pytest.approx(flops.torch_step_flops(
        lambda: d2l_torch.ResNet("ResNet-18", 10, 1), 2, (1, 96, 96))["eval"], rel=1e-3)
    spec = cifar_variant(20)
    pt = flops.torch_step_flops(
        lambda: d2l_torch.ResNet(spec, num_classes=10, in_channels=1), 2,
        (1, 28, 28))["train"]
    jx = jax_bench.jax_step_flops(2, 28, jax_bench.model_factory(
        SimpleNamespace(seed=0, lr=0.1), spec))[0] / 2
    assert pt < jx < 1.03 * pt


def test_jax_without_its_module_fails_clearly(monkeypatch):
    sys.path.insert(0, str(BENCH_DIR))
    train_speed = importlib.import_module("train_speed")

    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(train_speed.importlib, "import_module", missing)
    with pytest.raises(SystemExit, match="needs bench/jax_bench.py"):
        train_speed._jax_bench()


def test_jax_profile_accounts_for_the_step(tiny_data_dir, tmp_path):
    """bench/profile_step.py --framework jax: XLA's ops from the host trace, classified
    from the compiled HLO. The convolutions and matrix products it finds in the trace
    are the steps' FLOPs (the training steps and the evaluations it ran), the kinds
    add up to the whole op time, and all three kinds of convolution are there."""
    pytest.importorskip("jax")
    pytest.importorskip("tensorflow")  # the XPlane and HLO protobuf modules
    sys.path.insert(0, str(BENCH_DIR))
    jax_bench = importlib.import_module("jax_bench")
    from types import SimpleNamespace

    from d2l_resnet.variants import cifar_variant

    subprocess.run(
        [sys.executable, str(BENCH_DIR / "profile_step.py"), "--framework", "jax",
         "--case", "degradation", "--network", "ResNet-20", "--data", str(tiny_data_dir),
         "--num-train", "64", "--num-val", "32", "--batch-size", "16", "--no-warmup",
         "--gemm-size", "256", "--results-dir", str(tmp_path)],
        check=True, capture_output=True, text=True, timeout=600)
    result = json.loads((tmp_path / "profile-degradation-jax-ResNet-20.json").read_text())
    assert result["cores"] == 1
    train, evaluation = jax_bench.jax_step_flops(16, 28, jax_bench.model_factory(
        SimpleNamespace(seed=0, lr=0.1), cifar_variant(20)))
    expected = (64 // 16 * train + 32 // 16 * evaluation) / 1e9
    assert result["all_ops"]["gflop"] == pytest.approx(expected, rel=0.05)
    kinds = {k["kind"]: k for k in result["kinds"]}
    assert sum(k["ms"] for k in kinds.values()) == pytest.approx(result["op_ms_total"],
                                                                 abs=0.1 * len(kinds))
    for role in ("forward", "input gradient", "kernel gradient"):
        assert any(k.startswith(f"convolution, {role}") and v["gflop"] > 0
                   for k, v in kinds.items()), role
    assert all(0 < k["fraction_of_fp32_gemm"] for k in kinds.values() if k["gflop"])
    assert result["top_ops"][0]["ms"] == max(k["ms"] for k in result["top_ops"])


def test_onednn_benchmark_runs_tensorflow_both_ways(tiny_data_dir, tmp_path):
    out = tmp_path / "onednn.json"
    subprocess.run([sys.executable, str(BENCH_DIR / "tensorflow_onednn.py"), "--data",
                    str(tiny_data_dir), "--num-train", "64", "--num-val", "32",
                    "--gemm-size", "256", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    result = json.loads(out.read_text())
    off, on = (result["runs"][f"TF_ENABLE_ONEDNN_OPTS={v}"] for v in "01")
    assert result["speedup"] == pytest.approx(off["seconds"] / on["seconds"])
    per_image = result["gflop_per_image"]
    work = 64 * per_image["train"] + 32 * per_image["eval"]
    gemm = sum(result["gemm_fp32_gflop_per_s"].values()) / 2
    for run in (off, on):
        assert len(run["train_loss"]) == 1 and 0 <= run["val_acc"][0] <= 1
        assert run["gflop_per_s"] == pytest.approx(work / run["seconds"])
        assert run["fraction_of_fp32_gemm"] == pytest.approx(run["gflop_per_s"] / gemm)
    assert result["config"]["resize"] == on["resize"] and per_image["train"] > per_image["eval"]
