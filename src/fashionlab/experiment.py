"""Experiment configs: a typed schema, TOML presets shipped with the package, CLI overrides.

A config is flat TOML, one key per field of `ExperimentConfig`. Validation happens at the edge
and says exactly what is wrong: an unknown key (with "did you mean"), a wrong type, a value out
of range. The resolved config is written into every run directory as config.toml.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import tomli_w

from .errors import ConfigError, did_you_mean, match_name
from .fileio import entry_kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

OPTIMIZERS = ("adam", "rmsprop", "sgd", "adamw", "muon")
# Keras's default learning rates: the paper's "default learning rate" means these.
KERAS_DEFAULT_LR = {"adam": 1e-3, "rmsprop": 1e-3, "sgd": 0.01, "adamw": 1e-3, "muon": 0.01}  # muon: its SGD part's


def _check(kind, *, choices=None, low=None, high=None, low_open=False, high_open=False, doc=""):
    return {"kind": kind, "choices": choices, "low": low, "high": high,
            "low_open": low_open, "high_open": high_open, "doc": doc}


@dataclass
class ExperimentConfig:
    name: str = field(default="custom", metadata=_check(str, doc="experiment name"))
    description: str = field(default="", metadata=_check(str, doc="one line on what this is"))
    model: str = field(default="cnn-2", metadata=_check(str, doc="registered model (`fashionlab models list`)"))
    release: str = field(default="fashion-mnist", metadata=_check(str, doc="dataset release"))
    optimizer: str = field(default="adam", metadata=_check(str, choices=OPTIMIZERS, doc="optimizer, with Keras's defaults"))
    lr: float = field(default=0.0, metadata=_check(float, low=0, doc="learning rate; 0 means Keras's default for the optimizer"))
    momentum: float = field(default=0.0, metadata=_check(float, low=0, high=1, high_open=True,
                                                         doc="SGD momentum (Nesterov when > 0); Keras's default is 0"))
    weight_decay: float = field(default=0.0, metadata=_check(float, low=0, doc="decoupled for adamw, L2 otherwise"))
    muon_lr: float = field(default=0.05, metadata=_check(float, low=0, low_open=True,
                           doc="optimizer muon: the convolution filters' peak learning rate (the other parameters "
                               "take Nesterov SGD at lr, momentum and weight_decay)"))
    muon_momentum: float = field(default=0.6, metadata=_check(float, low=0, high=1, high_open=True,
                                 doc="optimizer muon: the filters' Nesterov momentum"))
    schedule: str = field(default="constant", metadata=_check(str, choices=("constant", "onecycle"),
                                                             doc="onecycle: linear warm-up to lr, then linear decay to 0"))
    warmup: float = field(default=0.2, metadata=_check(float, low=0, high=1, doc="share of steps warming up (onecycle)"))
    label_smoothing: float = field(default=0.0, metadata=_check(float, low=0, high=1, high_open=True,
                                                                 doc="share of the target spread over all classes"))
    tta_flip: bool = field(default=False, metadata=_check(bool, doc="average predictions over the image and its mirror"))
    tta_shift: int = field(default=0, metadata=_check(int, low=0, high=4, doc="also average over views moved N pixels "
                                                                              "diagonally (airbench's multi-crop TTA); 0 is off"))
    epochs: int = field(default=10, metadata=_check(int, low=1, doc="passes over the training set"))
    batch_size: int = field(default=32, metadata=_check(int, low=1, doc="images per optimizer step"))
    validation_split: float = field(default=0.2, metadata=_check(float, low=0, high=1, low_open=True, high_open=True,
                                                                 doc="last fraction of the training arrays held out, as Keras"))
    augment: bool = field(default=False, metadata=_check(bool, doc="random flip and zoom on training batches"))
    flip: bool = field(default=True, metadata=_check(bool, doc="random horizontal flip (when augment)"))
    zoom: float = field(default=0.1, metadata=_check(float, low=0, high=0.5, doc="zoom range +-, as Keras's zoom_range"))
    shift: int = field(default=0, metadata=_check(int, low=0, high=8, doc="random shift of up to N pixels (when augment)"))
    random_erasing: float = field(default=0.0, metadata=_check(float, low=0, high=1,
                                  doc="probability of erasing a random rectangle of each training image with noise "
                                      "(Zhong et al. 2017, when augment); 0 is off"))
    low_res_epochs: int = field(default=0, metadata=_check(int, low=0, doc="train the first N epochs on images scaled "
                                "down to low_res pixels (progressive resizing), then at full size; 0 is off"))
    low_res: int = field(default=16, metadata=_check(int, low=4, high=27, doc="side in pixels of the images of the "
                         "first low_res_epochs epochs (bilinear, antialiased); validation and test stay full size"))
    alternate_flip: bool = field(default=False, metadata=_check(bool, doc="flip each image in every other epoch, "
                                                                        "from a random first epoch (airbench), instead of at random"))
    ema: float = field(default=0.0, metadata=_check(float, low=0, high=1, high_open=True,
                                                    doc="decay per step of an exponential moving average of the weights "
                                                        "that is validated, tested and saved, its BatchNorm statistics recomputed "
                                                        "each epoch; 0 is off"))
    dirac_init: bool = field(default=False, metadata=_check(bool, doc="start each convolution's first filters as the "
                                                                     "identity (airbench); off keeps PyTorch's default init"))
    whiten_init: bool = field(default=False, metadata=_check(bool, doc="start the first convolution's filters as +- the "
                                                                      "training patches' whitening filters (airbench), then train them"))
    bn_bias_lr_scale: float = field(default=1.0, metadata=_check(float, low=0, low_open=True,
                                    doc="BatchNorm biases learn at this many times the learning rate, with weight decay "
                                        "divided by it (airbench uses 64); 1 is off"))
    unit_norm_axis: str = field(default="rows", metadata=_check(str, choices=("rows", "filter"),
                                doc="axis of unit-norm kernels (cnn-2): rows is Keras's unit_norm() default, axis=0; "
                                    "filter is axis=[0, 1, 2]"))
    seed: int = field(default=0, metadata=_check(int, low=0, doc="seed of weights, shuffling, dropout and augmentation"))
    train_limit: int = field(default=0, metadata=_check(int, low=0, doc="train on the first N images; 0 means all"))
    early_stopping_patience: int = field(default=0, metadata=_check(int, low=0, doc="epochs without val_loss improvement; 0 is off"))
    evaluate_weights: str = field(default="final", metadata=_check(str, choices=("final", "best"),
                                                                   doc="weights scored on the test set"))
    device: str = field(default="auto", metadata=_check(str, choices=("auto", "cpu", "cuda"), doc="auto: CUDA when present"))
    precision: str = field(default="auto", metadata=_check(str, choices=("auto", "fp32", "bf16"),
                                                           doc="bf16 autocasts forward passes; auto: bf16 where native"))
    eval_batch_size: int = field(default=1000, metadata=_check(int, low=1, doc="images per batch when scoring"))
    compile: str = field(default="auto", metadata=_check(str, choices=("auto", "on", "off"),
                                                        doc="torch.compile the model; auto: on CUDA only (slower on CPU here)"))
    deterministic: bool = field(default=False, metadata=_check(bool, doc="ask PyTorch for run-to-run reproducible "
                                                                         "kernels (cuDNN, cuBLAS, Inductor), for CUDA: "
                                                                         "same-seed GPU runs otherwise drift apart; "
                                                                         "the CPU's runs are reproducible without it"))
    # Settings of the run rather than of the experiment (RUN_SETTINGS): a resumed run may change them.
    threads: int = field(default=0, metadata=_check(int, low=0, high=4096,
                                                    doc="CPU threads for PyTorch; 0 keeps PyTorch's default"))
    label: str = field(default="", metadata=_check(str, doc="this run's name in reports and `fashionlab runs` "
                                                            "(default: its folder's name)"))
    tensorboard: str = field(default="", metadata=_check(str, doc="folder for TensorBoard event files, one "
                                                                  "subfolder per run; empty: off"))
    validation_freq: int = field(default=1, metadata=_check(int, low=1, doc="score the validation images after every "
                                                               "Nth epoch and the last (Keras's fit(validation_freq=N)); "
                                                               "the weights trained do not change"))

    @property
    def learning_rate(self) -> float:
        return self.lr or KERAS_DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


FIELDS = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
# Keys that say how a run is done or shown, not what is trained: `--resume` and reproduce's and
# --seeds' skip checks let them differ from the saved config. (More threads can change the
# order of floating-point sums, so a resume on another thread count is not bit-exact. Skipped
# validations change no weight; with evaluate_weights = "best" they narrow the epochs chosen from.)
RUN_SETTINGS = ("threads", "label", "tensorboard", "validation_freq")


def non_default_values(values: dict) -> dict:
    """`values` (a saved config's dict) without the keys at the schema's default, unknown keys kept.

    Configs saved before a key existed lack it, and later ones hold its default: compared through
    this, the two agree (a sweep study's spec, runs grouped as seeds of one setting).
    """
    return {k: v for k, v in values.items() if k not in FIELDS or v != FIELDS[k].default}


INT_MAX = 2**63 - 1  # every int key must fit in int64: torch takes seeds and sizes as int64


def text_problem(key: str, value: str) -> str | None:
    """Why a string cannot be a value of `key` (it ends up in file names, TOML and one-line messages)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate)"
    if any(ch < " " or ch == "\x7f" for ch in value):
        return "holds a control character (a newline, tab, NUL...); use one line of plain text"
    if key == "name" and (not value.strip() or "/" in value or "\\" in value):
        return "must be a non-empty name without / or \\ (it names the default run folder)"
    return None


def _validate_value(key: str, value, source: str):
    spec = FIELDS[key].metadata
    kind = spec["kind"]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(f"{source}: {key} must be a finite number; got {value!r}.") from None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key} must be {kind.__name__}, got {type(value).__name__} {value!r}.")
    if kind is float and not math.isfinite(value):
        # NaN compares false with every bound, and inf trains a garbage run: refuse both here.
        raise ConfigError(f"{source}: {key} must be a finite number; got {value!r}.")
    if kind is int and abs(value) > INT_MAX:
        raise ConfigError(f"{source}: {key} must be at most 2**63 - 1 ({INT_MAX}); got {value!r}.")
    if kind is str and (problem := text_problem(key, value)):
        raise ConfigError(f"{source}: {key} {problem}; got {value!r}.")
    if spec["choices"] and value not in spec["choices"]:
        raise ConfigError(f"{source}: {key} must be one of {', '.join(spec['choices'])}; got {value!r}.")
    low, high = spec["low"], spec["high"]
    too_low = low is not None and (value < low or (spec["low_open"] and value == low))
    too_high = high is not None and (value > high or (spec["high_open"] and value == high))
    if too_low or too_high:
        if high is None:
            bound = f"> {low}" if spec["low_open"] else f">= {low}"
        else:
            bound = f"in {'(' if spec['low_open'] else '['}{low}, {high}{')' if spec['high_open'] else ']'}"
        raise ConfigError(f"{source}: {key} must be {bound}; got {value!r}.")
    return value


def config_from_dict(values: dict, source: str = "config") -> ExperimentConfig:
    cleaned = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"{source}: unknown key {key!r}. Known keys: {', '.join(FIELDS)}.")
        if key not in FIELDS:
            raise ConfigError(f"{source}: unknown key {key!r}.{did_you_mean(key, FIELDS)} Known keys: {', '.join(FIELDS)}.")
        cleaned[key] = _validate_value(key, value, source)
    from .data.releases import RELEASES
    from .models import canonical_model_name, model_names

    if isinstance(cleaned.get("model"), str) and canonical_model_name(cleaned["model"]):
        cleaned["model"] = canonical_model_name(cleaned["model"])  # "CNN-2" is cnn-2
    config = ExperimentConfig(**cleaned)
    if config.model not in model_names():
        raise ConfigError(f"{source}: unknown model {config.model!r}.{did_you_mean(config.model, model_names())} "
                          "`fashionlab models list` shows them.")
    if config.release not in RELEASES:
        raise ConfigError(f"{source}: unknown release {config.release!r}; known: {', '.join(RELEASES)}.")
    if config.low_res_epochs:
        from .models.registry import MODELS

        if not MODELS[config.model].any_image_size:
            raise ConfigError(f"{source}: low_res_epochs needs a network that takes any image size (a fastnet); "
                              f"{config.model} takes 28x28 only. Set low_res_epochs = 0 or another model.")
        if config.low_res_epochs >= config.epochs:
            raise ConfigError(f"{source}: low_res_epochs ({config.low_res_epochs}) must be below epochs "
                              f"({config.epochs}): the last epochs train at full size, as the model is scored.")
    if config.validation_freq > 1 and config.early_stopping_patience:
        raise ConfigError(f"{source}: early_stopping_patience counts epochs and needs a validation after each; set "
                          f"validation_freq = 1 (not {config.validation_freq}) or early_stopping_patience = 0.")
    return config


def preset_names() -> list[str]:
    return sorted(p.name[: -len(".toml")] for p in resources.files("fashionlab.presets").iterdir() if p.name.endswith(".toml"))


def parse_toml(text: str, source: str) -> dict:
    """A config's or sweep spec's TOML, or a ConfigError naming `source` (also for nesting past the recursion limit)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc}).") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML here (nested too deeply to read).") from None


MAX_CONFIG_BYTES = 1 << 20  # a flat config is a few hundred bytes; a larger file is a wrong argument


def read_config_text(path: Path) -> str:
    """The text of a config file: UTF-8 (a leading byte-order mark is accepted), or a ConfigError naming it."""
    kind = entry_kind(path)
    if kind is None:
        raise ConfigError(f"{path}: no such config file.")
    if kind != "a file":  # a FIFO would block, a device never ends
        raise ConfigError(f"{path} is {kind}, not a config file. Give a TOML file or a preset name.")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror}). Check its permissions.") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: over {MAX_CONFIG_BYTES:,} bytes, too large for a config file. Give the experiment's TOML file.")
    try:
        return data.decode("utf-8-sig")  # Windows editors often write a BOM; TOML itself forbids one
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}). "
            "TOML files must be UTF-8: save the file as UTF-8 and try again."
        ) from None


MAX_EXTENDS_DEPTH = 16  # a longer chain of `extends` is a mistake, not a design


def _locate(name_or_path: str, folder: Path | None) -> tuple[str, str | Path] | None:
    """Where an experiment name points: ("preset", name) or ("file", path); None when nowhere.

    An exact preset name comes first, then a file (relative to `folder` when given: the folder of
    the config that `extends` it), then a preset name in other case ("CNN-2").
    """
    presets = preset_names()
    if name_or_path in presets:
        return "preset", name_or_path
    path = Path(name_or_path)
    if folder is not None and not path.is_absolute():
        path = folder / path
    if path.suffix == ".toml" or entry_kind(path) is not None:
        return "file", path
    canonical = match_name(name_or_path, presets)
    return ("preset", canonical) if canonical else None


def _resolved_values(where: tuple[str, str | Path], chain: list[tuple[str, str]]) -> tuple[dict, str]:
    """The values of a preset or file with its `extends` chain applied (base first), and its source name.

    `chain` holds the (identity, source name) of the configs that extend this one. Each level is
    validated under its own name, so an error names the file that holds the bad key.
    """
    kind, target = where
    if kind == "preset":
        source = identity = f"preset {target}"
    else:
        source, identity = str(target), os.path.realpath(target)  # never raises, even on a symlink loop
    if identity in (seen for seen, _ in chain):
        names = " -> ".join([*(name for _, name in chain), source])
        raise ConfigError(f"{chain[-1][1]}: extends makes a cycle ({names}); remove one `extends`.")
    if kind == "preset":
        text = resources.files("fashionlab.presets").joinpath(f"{target}.toml").read_text(encoding="utf-8")
        folder = None
    else:
        text = read_config_text(target)
        folder = target.parent
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ConfigError(f"{source}: more than {MAX_EXTENDS_DEPTH} configs extend one another; shorten the chain.")
    values = parse_toml(text, source)
    if not values:  # else every key would fall back to the schema's defaults, a "custom" cnn-2
        raise ConfigError(f"{source}: holds no settings; start from a preset (`extends = \"cnn-2\"`) and add "
                          "the keys you change.")
    base = values.pop("extends", None)
    if base is not None:
        if not isinstance(base, str) or not base.strip():
            raise ConfigError(f"{source}: extends must be a preset name or a TOML file path; got {base!r}.")
        found = _locate(base, folder)
        if found is None:
            raise ConfigError(f"{source}: extends {base!r}, which is neither a preset nor a TOML file."
                              f"{did_you_mean(base, preset_names())} Presets: {', '.join(preset_names())}.")
        base_values, _ = _resolved_values(found, [*chain, (identity, source)])
        values = {**base_values, **values}
    config_from_dict(values, source)  # every level is a valid config on its own
    return values, source


def load_config(name_or_path: str, overrides: dict | None = None) -> ExperimentConfig:
    """A preset name (`cnn-2`, any case) or a TOML file, with `overrides` (None values ignored) applied.

    A TOML file may say `extends = "cnn-2"` (a preset) or `extends = "base.toml"` (a file, relative
    to it): it then holds only the keys it changes.
    """
    where = _locate(name_or_path, None)
    if where is None:
        raise ConfigError(
            f"{name_or_path!r} is neither a preset nor a TOML file.{did_you_mean(name_or_path, preset_names())} "
            f"Presets: {', '.join(preset_names())}."
        )
    values, source = _resolved_values(where, [])
    config = config_from_dict(values, source)
    if overrides:
        changes = {k: v for k, v in overrides.items() if v is not None}
        config = config_from_dict({**config.to_dict(), **changes}, f"{source} with command-line overrides")
    return config


def parse_assignment(text: str) -> tuple[str, object]:
    """`KEY=VALUE` from the command line (`--set`): VALUE is a TOML literal (`0.1`, `true`, `"adamw"`),
    or, when it is not one, the text itself (so `optimizer=adamw` needs no quotes). The schema
    validates it with every other key."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: give KEY=VALUE, e.g. --set label_smoothing=0.1.")
    try:
        parsed = tomllib.loads(f"value = {raw.strip()}")
    except (tomllib.TOMLDecodeError, RecursionError):  # not TOML: the text itself, which the schema refuses
        parsed = {}
    return key, parsed["value"] if set(parsed) == {"value"} else raw.strip()
