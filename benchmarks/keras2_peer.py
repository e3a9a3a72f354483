"""The paper's own stack as a peer: Keras 2 (tf_keras on TensorFlow), run in a process of its own.

The paper ran Keras 2.4.3. tf_keras is the Keras 2 API on current TensorFlow, with the paper's
`ImageDataGenerator`. This script builds the paper's six models exactly as fashionlab's presets
reconstruct them (docs/paper-experiments.md) and runs them the way the paper's code did:

- Keras's own layers and defaults: Glorot-uniform kernels, BatchNormalization momentum 0.99 and
  epsilon 1e-3, `unit_norm()` with its default axis 0 on CNN-2's kernels, optimizer defaults;
- ANNs: `model.fit(x, y, validation_split=v, shuffle=True)`;
- CNNs: `ImageDataGenerator(horizontal_flip=True, zoom_range=0.1).flow(...)` feeding `model.fit`.
  `fit` takes no `validation_split` with a generator, so the last fraction v of the training arrays
  is held out by hand, as `fit(validation_split=v)` would: the same split fashionlab uses.

It never imports PyTorch: TensorFlow and PyTorch in one process segfaulted on the development
machine, so `throughput.py` and `keras_parity.py` start this script as a subprocess. Modes:

    python benchmarks/keras2_peer.py train cnn-2 --epochs 5 --seed 0 --json out.json
    python benchmarks/keras2_peer.py throughput --steps 200 --precision fp32

Needs the `peer` extra (`pip install -e ".[peer]"`) and the data (`FASHIONLAB_DATA`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The paper's protocols, as fashionlab's presets hold them (optimizer, lr, batch, validation split).
PROTOCOLS = {
    "ann-1": ("rmsprop", 1e-3, 100, 0.33),
    "ann-2": ("sgd", 0.025, 200, 0.33),
    "ann-3": ("adam", 1e-3, 50, 0.33),
    "cnn-1": ("adam", 1e-3, 32, 0.20),
    "cnn-2": ("sgd", 0.01, 32, 0.20),
    "cnn-3": ("rmsprop", 1e-3, 32, 0.20),
}


def build_model(name: str):
    import tf_keras as keras
    from tf_keras import constraints, layers

    if name.startswith("ann"):
        widths = [512, 256, 128] + ([64, 32] if name == "ann-3" else [])
        return keras.Sequential([layers.Flatten(input_shape=(28, 28, 1))]
                                + [layers.Dense(w, activation="relu") for w in widths]
                                + [layers.Dense(10, activation="softmax")])
    unit_norm = name == "cnn-2"
    blocks = {"cnn-1": [(32, False), (64, False)], "cnn-2": [(32, True), (64, False)],
              "cnn-3": [(32, False), (64, False), (128, False)]}[name]

    def conv(filters, **kw):
        return layers.Conv2D(filters, 3, padding="same", activation="relu",
                             kernel_constraint=constraints.unit_norm() if unit_norm else None, **kw)

    model = keras.Sequential()
    for i, (filters, second_bn) in enumerate(blocks):
        model.add(conv(filters, **({"input_shape": (28, 28, 1)} if i == 0 else {})))
        model.add(layers.BatchNormalization())
        model.add(conv(filters))
        if second_bn:
            model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling2D(2))
        model.add(layers.Dropout(0.2))
    for layer in (layers.Flatten(), layers.Dense(256, activation="relu"), layers.BatchNormalization(),
                  layers.Dropout(0.2), layers.Dense(10, activation="softmax")):
        model.add(layer)
    return model


def compile_model(model, optimizer: str, lr: float):
    import tf_keras as keras

    opt = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}[optimizer]
    model.compile(optimizer=opt(learning_rate=lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def augmenter():
    from tf_keras.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator(horizontal_flip=True, zoom_range=0.1)


def load_arrays(train_limit: int = 0):
    from fashionlab import load_dataset  # NumPy only: the data layer does not import torch

    ds = load_dataset(data_dir=os.environ.get("FASHIONLAB_DATA"))
    x = ds.train_images.astype("float32")[..., None] / 255.0
    y = ds.train_labels.astype("int64")
    if train_limit:
        x, y = x[:train_limit], y[:train_limit]
    return x, y, ds.test_images.astype("float32")[..., None] / 255.0, ds.test_labels.astype("int64"), ds.release


def set_precision(precision: str) -> None:
    import tf_keras as keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bf16" else "float32")


def train(name: str, epochs: int, seed: int, train_limit: int, precision: str) -> dict:
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    set_precision(precision)
    optimizer, lr, batch, split = PROTOCOLS[name]
    x, y, x_test, y_test, release = load_arrays(train_limit)
    model = compile_model(build_model(name), optimizer, lr)
    started = time.perf_counter()
    if name.startswith("ann"):
        history = model.fit(x, y, batch_size=batch, epochs=epochs, validation_split=split, shuffle=True, verbose=0)
    else:
        at = int(len(x) * (1 - split))  # where fit(validation_split=split) would cut
        flow = augmenter().flow(x[:at], y[:at], batch_size=batch, shuffle=True, seed=seed)
        history = model.fit(flow, epochs=epochs, validation_data=(x[at:], y[at:]), verbose=0)
    seconds = time.perf_counter() - started
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    h = history.history
    rows = [{"epoch": i + 1, "train_loss": h["loss"][i], "train_accuracy": h["accuracy"][i],
             "val_loss": h["val_loss"][i], "val_accuracy": h["val_accuracy"][i]} for i in range(len(h["loss"]))]
    return {"experiment": name, "engine": f"tf_keras {keras.__version__} / tensorflow {tf.__version__}",
            "precision": precision, "seed": seed, "epochs": epochs, "release": release, "history": rows,
            "test_accuracy": float(test_acc), "test_loss": float(test_loss), "train_seconds": seconds}


def throughput(steps: int, precision: str, seed: int = 0) -> dict:
    """Images/s of CNN-2's paper protocol, generator included: SGD 0.01, batch 32, flip + zoom, unit_norm."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    set_precision(precision)
    x, y, *_ = load_arrays()
    model = compile_model(build_model("cnn-2"), "sgd", 0.01)
    flow = augmenter().flow(x, y, batch_size=32, shuffle=True, seed=seed)
    model.fit(flow, steps_per_epoch=max(10, steps // 5), epochs=1, verbose=0)  # warm-up: tracing, oneDNN primitives
    started = time.perf_counter()
    model.fit(flow, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    return {"engine": f"tf_keras {keras.__version__} / tensorflow {tf.__version__}", "model": "cnn-2",
            "precision": precision, "steps": steps, "batch_size": 32, "seconds": seconds,
            "images_per_second": steps * 32 / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("train")
    p.add_argument("experiment", choices=list(PROTOCOLS))
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--json", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--json", required=True)
    args = parser.parse_args()
    if args.mode == "train":
        result = train(args.experiment, args.epochs, args.seed, args.train_limit, args.precision)
    else:
        result = throughput(args.steps, args.precision)
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}), file=sys.stderr)


if __name__ == "__main__":
    main()
