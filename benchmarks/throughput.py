"""Training throughput of the paper's models, at their paper batch sizes, through fashionlab's engine.

Run on purpose (not in CI); prints a table and writes JSON. Each figure is the median of
`--repeats` timed windows after a warm-up, measured on the real training step (batch gather from
the training tensor, augmentation where the protocol has it, forward, backward, optimizer step,
constraints). With `--peer keras2` it times CNN-2's paper protocol against the paper's own stack,
Keras 2 with ImageDataGenerator (`keras2_peer.py`, the `peer` extra), alternating processes, and
prints the median of the per-round ratios. The machine's GEMM rate is printed beside the figures.

The engine's two step-level choices can be timed against their alternatives: `--layouts engine
contiguous` (the engine's memory format, channels_last for CNNs on the CPU, against plain NCHW) and
`--compile off on` (eager against `torch.compile` of the forward, as `compile = "on"` trains).

    python benchmarks/throughput.py                       # all six models on the CPU (and CUDA if present)
    python benchmarks/throughput.py --peer keras2 --rounds 3
    python benchmarks/throughput.py --models cnn-2 --precision fp32 bf16 --layouts engine contiguous --compile off on
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_record, measure_machine_state, write_record  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fashionlab_images_per_second(name: str, device_name: str, steps: int, repeats: int, precision: str,
                                 layout: str = "engine", compiled: bool = False) -> dict:
    import torch

    from fashionlab.experiment import load_config
    from fashionlab.host_memory import reuse_freed_memory
    from fashionlab.models import build_model
    from fashionlab.device import place_model, resolve_device
    from fashionlab.training import TrainStep, make_optimizer

    config = load_config(name, {"device": device_name, "precision": precision})
    device = resolve_device(device_name)
    if compiled:  # a fresh start: Dynamo's caches from an earlier configuration could hit its recompile limit
        torch._dynamo.reset()
    torch.manual_seed(0)
    if layout == "engine":
        model, channels_last = place_model(build_model(config.model), device)
    else:  # plain NCHW, whatever the engine would choose
        model, channels_last = build_model(config.model).to(device), False
    step = TrainStep(model, make_optimizer(config, model.parameters()), config,
                     torch.Generator(device=device).manual_seed(1), channels_last, precision,
                     forward=torch.compile(model) if compiled else None)
    data = torch.rand(8192, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (8192,), device=device)
    bs = config.batch_size
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def window(n):
        perm = torch.randperm(data.shape[0], device=device)
        loss = None
        for i in range(n):
            index = perm[(i * bs) % (data.shape[0] - bs) :][:bs]
            loss, _ = step(data[index], labels[index])
        loss.item()  # wait for the device

    model.train()
    with reuse_freed_memory():  # malloc as training sets it
        window(max(5, steps // 5))  # warm-up: allocator, oneDNN primitives, cuDNN autotune
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            window(steps)
            rates.append(steps * bs / (time.perf_counter() - t0))
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mib()
    return {"model": name, "engine": "fashionlab", "device": str(device), "precision": precision,
            "layout_asked": layout, "layout": "channels_last" if channels_last else "contiguous", "compiled": compiled,
            "batch_size": bs, "images_per_second": statistics.median(rates), "runs": rates,
            "peak_memory_mib": peak, "peak_memory_kind": "cuda allocated" if device.type == "cuda" else "process max RSS"}


def run_json(cmd: list[str]) -> dict:
    """Run one measurement in a fresh process and read the JSON it writes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(cmd + ["--json", str(out)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def versus_keras2(steps: int, rounds: int) -> list[dict]:
    """CNN-2's protocol, fashionlab against the paper's stack (keras2_peer.py), each in its own process.

    TensorFlow and PyTorch in one process segfaulted here, so the two alternate A B A B; each
    round times fashionlab bf16 and fp32 and Keras fp32 (its default) and mixed_bfloat16, and the
    ratios are taken within a round, so the machine's drift between rounds cancels.
    """
    # The machine's state is measured once, by the parent: not again in each child process.
    ours = [sys.executable, __file__, "--models", "cnn-2", "--steps", str(steps), "--repeats", "1", "--devices", "cpu",
            "--reference-steps", "0"]
    peer = [sys.executable, str(Path(__file__).with_name("keras2_peer.py")), "throughput", "--steps", str(steps)]
    pairs = {"fashionlab bf16 / Keras 2 fp32 (each stack's default)": ("bf16", "fp32"),
             "fashionlab fp32 / Keras 2 fp32": ("fp32", "fp32"),
             "fashionlab bf16 / Keras 2 mixed_bfloat16": ("bf16", "bf16")}
    rounds_out = []
    for r in range(rounds):
        rates = {}
        for side, precision in (("ours", "bf16"), ("keras", "fp32"), ("ours", "fp32"), ("keras", "bf16")):
            if side == "ours":
                rate = run_json(ours + ["--precision", precision])["results"][0]["images_per_second"]
            else:
                rate = run_json(peer + ["--precision", precision])["images_per_second"]
            rates[(side, precision)] = rate
            print(f"round {r + 1}: {'fashionlab' if side == 'ours' else 'Keras 2':<10} {precision}: {rate:8,.0f} images/s",
                  flush=True)
        rounds_out.append({"rates": {f"{s} {p}": v for (s, p), v in rates.items()},
                           "ratios": {k: rates[("ours", a)] / rates[("keras", b)] for k, (a, b) in pairs.items()}})
    return rounds_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["ann-1", "ann-2", "ann-3", "cnn-1", "cnn-2", "cnn-3"])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when present")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--layouts", nargs="+", default=["engine"], choices=["engine", "contiguous"],
                        help="engine: the engine's memory format (channels_last for CNNs on the CPU); contiguous: NCHW")
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"],
                        help="torch.compile the forward pass, as compile = \"on\" does in training")
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per timed window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", choices=["keras2"], help="time CNN-2's protocol against Keras 2 (tf_keras, ImageDataGenerator)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds against the peer")
    parser.add_argument("--json", default="benchmarks/results/throughput.json")
    parser.add_argument("--reference-steps", type=int, default=1500,
                        help="steps of the fixed reference workload timed first (0: skip)")
    args = parser.parse_args()

    import torch

    gemm = measure_machine_state(args.reference_steps)
    reference_rate = 32 * args.reference_steps / gemm["reference_seconds"] if args.reference_steps else None
    reference_rate_bf16 = 32 * args.reference_steps / gemm["reference_seconds_bf16"] if args.reference_steps else None
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    if args.peer:
        devices = []  # the comparison with the peer starts its own processes, one measurement each
    results = []
    for device in devices:
        for precision in args.precision:
            for name in args.models:
                for layout in args.layouts:
                    for compiled in args.compile:
                        r = fashionlab_images_per_second(name, device, args.steps, args.repeats, precision, layout,
                                                         compiled == "on")
                        results.append(r)
                        if reference_rate:  # figures that survive the machine's drift, fp32's and bf16's
                            r["times_reference_rate"] = r["images_per_second"] / reference_rate
                            r["times_reference_rate_bf16"] = r["images_per_second"] / reference_rate_bf16
                        variant = f" {r['layout']}{' compiled' if r['compiled'] else ''}" if (
                            args.layouts != ["engine"] or args.compile != ["off"]) else ""
                        print(f"{r['model']:<7} {r['device']:<5} {r['precision']:<5} batch {r['batch_size']:>4}{variant}: "
                              f"{r['images_per_second']:>9,.0f} images/s ({1000 * r['batch_size'] / r['images_per_second']:.1f} ms a step)"
                              f"  (peak {r['peak_memory_mib']:,.0f} MiB {r['peak_memory_kind']})"
                              + (f"  {r['times_reference_rate']:.2f}x the fp32 reference, "
                                 f"{r['times_reference_rate_bf16']:.2f}x the bf16 one" if reference_rate else ""),
                              flush=True)
    if args.peer == "keras2":
        peer_rounds = versus_keras2(args.steps, args.rounds)
        results.append({"peer": "keras2", "rounds": peer_rounds})
        for name in peer_rounds[0]["ratios"]:
            values = [r["ratios"][name] for r in peer_rounds]
            print(f"{name}: median {statistics.median(values):.2f}x  (rounds: {', '.join(f'{v:.2f}' for v in values)})")
    record = {"machine": {**machine_record(), "threads": torch.get_num_threads(), "torch": torch.__version__, **gemm},
              "results": results}
    write_record(args.json, record)


if __name__ == "__main__":
    main()
