"""Training throughput of the paper's models, at their paper batch sizes, through fashionlab's engine.

Run on purpose (not in CI); prints a table and writes JSON. Each figure is the median of
`--repeats` timed windows after a warm-up, measured on the real training step (batch gather from
the training tensor, augmentation where the protocol has it, forward, backward, optimizer step,
constraints). With `--peer keras` it also runs CNN-2's protocol in Keras 3 on TensorFlow in the
same process (install the `peer` extra) and prints the ratio, so both figures share the
machine's state.

    python benchmarks/throughput.py                       # all six models on the CPU (and CUDA if present)
    python benchmarks/throughput.py --models cnn-2 --peer keras
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fashionlab_images_per_second(name: str, device_name: str, steps: int, repeats: int, precision: str) -> dict:
    import torch

    from fashionlab.experiment import load_config
    from fashionlab.models import build_model
    from fashionlab.training import TrainStep, make_optimizer, place_model, resolve_device

    config = load_config(name, {"device": device_name, "precision": precision})
    device = resolve_device(device_name)
    torch.manual_seed(0)
    model, channels_last = place_model(build_model(config.model), device)
    step = TrainStep(model, make_optimizer(config, model.parameters()), config,
                     torch.Generator(device=device).manual_seed(1), channels_last, precision)
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
    window(max(5, steps // 5))  # warm-up: allocator, oneDNN primitives, cuDNN autotune
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        window(steps)
        rates.append(steps * bs / (time.perf_counter() - t0))
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mib()
    return {"model": name, "engine": "fashionlab", "device": str(device), "precision": precision,
            "batch_size": bs, "images_per_second": statistics.median(rates), "runs": rates,
            "peak_memory_mib": peak, "peak_memory_kind": "cuda allocated" if device.type == "cuda" else "process max RSS"}


def keras_cnn2_images_per_second(steps: int, repeats: int, precision: str = "fp32") -> dict:
    """CNN-2's paper protocol in Keras 3 on TensorFlow: same layers, SGD 0.01, batch 32, flip + zoom.

    Keras 3 has no ImageDataGenerator; its in-graph RandomFlip/RandomZoom layers are the batched
    equivalent (and faster than the paper's per-sample generator). bf16 uses Keras's
    mixed_bfloat16 policy, the counterpart of fashionlab's autocast.
    """
    import os

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    from keras import constraints, layers

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    def conv(filters):
        return layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_constraint=constraints.UnitNorm(axis=[0, 1, 2]))

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.RandomFlip("horizontal"), layers.RandomZoom(0.1, 0.1, fill_mode="nearest"),
        conv(32), layers.BatchNormalization(), conv(32), layers.BatchNormalization(), layers.MaxPooling2D(), layers.Dropout(0.2),
        conv(64), layers.BatchNormalization(), conv(64), layers.MaxPooling2D(), layers.Dropout(0.2),
        layers.Flatten(), layers.Dense(256, activation="relu"), layers.BatchNormalization(), layers.Dropout(0.2),
        layers.Dense(10), layers.Activation("softmax", dtype="float32"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    bs = 32
    x = np.random.rand(steps * bs, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, steps * bs)
    model.fit(x[: 20 * bs], y[: 20 * bs], batch_size=bs, epochs=1, verbose=0)  # warm-up and tracing
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=bs, epochs=1, verbose=0, shuffle=True)
        rates.append(steps * bs / (time.perf_counter() - t0))
    import tensorflow as tf

    return {"model": "cnn-2", "engine": f"keras {keras.__version__} / tensorflow {tf.__version__}", "device": "cpu",
            "precision": precision, "batch_size": bs, "images_per_second": statistics.median(rates), "runs": rates,
            "peak_memory_mib": peak_rss_mib(), "peak_memory_kind": "process max RSS"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["ann-1", "ann-2", "ann-3", "cnn-1", "cnn-2", "cnn-3"])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when present")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per timed window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", choices=["keras"], help="also time CNN-2's protocol in Keras 3 / TensorFlow")
    parser.add_argument("--json", default="benchmarks/results/throughput.json")
    args = parser.parse_args()

    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    results = []
    for device in devices:
        for precision in args.precision:
            for name in args.models:
                r = fashionlab_images_per_second(name, device, args.steps, args.repeats, precision)
                results.append(r)
                print(f"{r['model']:<7} {r['device']:<5} {r['precision']:<5} batch {r['batch_size']:>4}: "
                      f"{r['images_per_second']:>9,.0f} images/s  (peak {r['peak_memory_mib']:,.0f} MiB {r['peak_memory_kind']})",
                      flush=True)
    if args.peer == "keras":
        peers = []
        for precision in args.precision:
            peer = keras_cnn2_images_per_second(args.steps, args.repeats, precision)
            peers.append(peer)
            print(f"cnn-2   keras cpu {precision:<5} batch   32: {peer['images_per_second']:>9,.0f} images/s  ({peer['engine']})",
                  flush=True)
        results += peers
        ours = [r for r in results if r["model"] == "cnn-2" and r["engine"] == "fashionlab" and r["device"] == "cpu"]
        for r in ours:
            for peer in peers:
                print(f"ratio fashionlab {r['precision']} / keras {peer['precision']} on cnn-2, cpu: "
                      f"{r['images_per_second'] / peer['images_per_second']:.2f}x")
    record = {"machine": {"platform": platform.platform(), "processor": platform.processor(),
                          "threads": torch.get_num_threads(), "torch": torch.__version__},
              "results": results}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
