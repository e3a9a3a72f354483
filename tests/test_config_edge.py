"""Hostile config input: every value, of every type, gives a valid config or a ConfigError."""

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fashionlab.errors import ConfigError
from fashionlab.experiment import FIELDS, ExperimentConfig, config_from_dict, load_config
from conftest import one_line_exit_2

FLOAT_KEYS = [k for k, f in FIELDS.items() if f.metadata["kind"] is float]
INT_KEYS = [k for k, f in FIELDS.items() if f.metadata["kind"] is int]


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400], ids=["nan", "inf", "-inf", "int-10e400"])
def test_non_finite_floats_are_rejected_for_every_float_key(key, value):
    with pytest.raises(ConfigError, match=f"test.toml: {key} must be a finite number"):
        config_from_dict({key: value}, "test.toml")


@pytest.mark.parametrize(
    "text, key",
    [
        ("validation_split = nan", "validation_split"),
        ("warmup = nan", "warmup"),
        ("lr = nan", "lr"),
        ("lr = inf", "lr"),
        ("lr = 1e400", "lr"),  # TOML reads it as inf
        ("weight_decay = inf", "weight_decay"),
        ("momentum = nan", "momentum"),
        ("label_smoothing = nan", "label_smoothing"),
        ("zoom = nan", "zoom"),
        ("zoom = -inf", "zoom"),
    ],
)
def test_nan_and_inf_in_a_config_file_exit_2(tmp_path, capsys, text, key):
    config = tmp_path / "c.toml"
    config.write_text(f'model = "ann-3"\n{text}\n')
    out = tmp_path / "run"
    err = one_line_exit_2(["train", str(config), "--out", str(out)], capsys)
    assert f"{key} must be a finite number" in err and str(config) in err
    assert not out.exists()


@pytest.mark.parametrize("flag", ["1e400", "inf", "nan", "-inf"])
def test_lr_flag_must_be_finite(tmp_path, capsys, flag):
    out = tmp_path / "run"
    err = one_line_exit_2(["train", "ann-3", f"--lr={flag}", "--out", str(out)], capsys)
    assert "lr must be a finite number" in err and not out.exists()


def test_seed_must_fit_in_64_bits(tmp_path, capsys):
    assert load_config("ann-3", {"seed": 2**63 - 1}).seed == 2**63 - 1
    for seed in (2**63, 2**64, 10**30):
        with pytest.raises(ConfigError, match=r"seed must be at most 2\*\*63 - 1"):
            load_config("ann-3", {"seed": seed})
    err = one_line_exit_2(["train", "ann-3", "--seed", str(2**70), "--out", str(tmp_path / "run")], capsys)
    assert "seed must be at most" in err and not (tmp_path / "run").exists()


def test_largest_seed_seeds_torch():
    """The bound is what the training engine can use: torch.manual_seed(seed) and (seed + 1)."""
    import torch

    seed = load_config("ann-3", {"seed": 2**63 - 1}).seed
    torch.Generator().manual_seed(seed)
    torch.Generator().manual_seed(seed + 1)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"name": "a/b"}, "name must be a non-empty name without /"),
        ({"name": ""}, "name must be a non-empty name"),
        ({"name": "x\x00y"}, "name holds a control character"),
        ({"description": "two\nlines"}, "description holds a control character"),
        ({"description": "\ud800"}, "not valid Unicode text"),
        ({1: 2}, "unknown key 1"),
    ],
)
def test_text_values_that_cannot_name_a_run(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values, "test.toml")


# ---------------------------------------------------------------- reading the file

def test_non_utf8_config_file_isone_line_exit_2(tmp_path, capsys):
    config = tmp_path / "latin1.toml"
    config.write_bytes('model = "ann-3"\ndescription = "café"\n'.encode("latin-1"))
    err = one_line_exit_2(["train", str(config), "--out", str(tmp_path / "run")], capsys)
    assert str(config) in err and "not UTF-8" in err and "0xe9" in err
    assert not (tmp_path / "run").exists()


def test_utf8_bom_is_accepted(tmp_path):
    config = tmp_path / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf" + 'model = "ann-3"\ndescription = "café"\nepochs = 2\n'.encode())
    loaded = load_config(str(config))
    assert (loaded.model, loaded.description, loaded.epochs) == ("ann-3", "café", 2)


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_a_config_with_no_settings_is_refused_not_trained_as_defaults(tmp_path, capsys, text):
    config = tmp_path / "empty.toml"
    config.write_text(text)
    err = one_line_exit_2(["train", str(config), "--out", str(tmp_path / "run")], capsys)
    assert str(config) in err and "holds no settings" in err and "extends" in err
    assert not (tmp_path / "run").exists()


def test_config_that_is_a_directory_or_fifo(tmp_path, capsys):
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    err = one_line_exit_2(["train", str(folder)], capsys)
    assert f"{folder} is a directory, not a config file" in err
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # reading it would block forever
    err = one_line_exit_2(["train", str(fifo)], capsys)
    assert "named pipe" in err


def test_unreadable_config_file(tmp_path, capsys, monkeypatch):
    import fashionlab.experiment as experiment

    config = tmp_path / "c.toml"
    config.write_text('model = "ann-3"\n')

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(experiment, "open", denied, raising=False)
    err = one_line_exit_2(["train", str(config)], capsys)
    assert f"{config}: cannot read the config file (Permission denied)" in err


def test_unreadable_config_file_chmod(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 file anyway (the monkeypatched test covers the code path)")
    config = tmp_path / "c.toml"
    config.write_text('model = "ann-3"\n')
    config.chmod(0)
    with pytest.raises(ConfigError, match="Permission denied"):
        load_config(str(config))


def test_huge_config_file_is_refused_without_reading_it_all(tmp_path):
    config = tmp_path / "big.toml"
    with open(config, "wb") as fh:
        fh.truncate(1 << 30)  # sparse: 1 GiB of NUL bytes on no disk
    with pytest.raises(ConfigError, match="too large for a config file"):
        load_config(str(config))


# ---------------------------------------------------------------- property: any value, never a crash

def _any_value():
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.nan, -math.nan, math.inf, -math.inf, 2**63, 10**400]),
        st.floats(min_value=-2, max_value=2),
        st.text(st.characters(codec=None, exclude_categories=()), max_size=12),
        st.binary(max_size=4),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.datetimes(),
        st.dates(),
        st.times(),
    )


def _plausible(key):
    """Values near the key's own domain (its choices, bounds, model and release names), so that
    valid configs come up as often as invalid ones."""
    from fashionlab.data.releases import RELEASES
    from fashionlab.models import model_names

    spec = FIELDS[key].metadata
    options = [_any_value()]
    if spec["choices"]:
        options.append(st.sampled_from(spec["choices"]))
    if key == "model":
        options.append(st.sampled_from(model_names()))
    if key == "release":
        options.append(st.sampled_from(list(RELEASES)))
    if spec["kind"] is float:
        options.append(st.floats(min_value=-0.5, max_value=1.5) | st.sampled_from([0.0, 1.0, 0.5, -0.0, 5e-324]))
    if spec["kind"] is int:
        options.append(st.integers(min_value=-2, max_value=10) | st.sampled_from([2**63 - 1, 2**63, -(2**63)]))
    return st.one_of(*options)


CONFIGS = st.fixed_dictionaries({}, optional={key: _plausible(key) for key in FIELDS})
EXTRA_KEYS = st.dictionaries(st.text(max_size=20) | st.integers(), _any_value(), max_size=1)


def _check_valid(config: ExperimentConfig):
    for key, f in FIELDS.items():
        value, spec = getattr(config, key), f.metadata
        assert type(value) is spec["kind"], (key, value)
        if spec["kind"] is float:
            assert math.isfinite(value), (key, value)
        if spec["kind"] in (int, float):
            assert spec["low"] is None or value >= spec["low"], (key, value)
            assert spec["high"] is None or value <= spec["high"], (key, value)
        if spec["kind"] is int:
            assert abs(value) < 2**63, (key, value)
        if spec["choices"]:
            assert value in spec["choices"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=CONFIGS, extra=EXTRA_KEYS)
def test_any_values_give_a_valid_config_or_a_config_error(values, extra):
    try:
        config = config_from_dict({**values, **extra}, "fuzz.toml")
    except ConfigError as exc:
        assert "\n" not in str(exc) or "\n" in repr(values)  # one line, unless it quotes the value
        return
    _check_valid(config)
    # A valid config survives the trip through config.toml that every run directory makes.
    import tomllib

    assert config_from_dict(tomllib.loads(config.to_toml()), "round trip") == config


@settings(max_examples=200, deadline=None)
@given(item=st.sampled_from(sorted(FIELDS)).flatmap(lambda key: st.tuples(st.just(key), _plausible(key))))
def test_any_override_gives_a_valid_config_or_a_config_error(item):
    key, value = item
    try:
        config = load_config("ann-3", {key: value})
    except ConfigError:
        return
    _check_valid(config)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_any_config_file_text_gives_a_config_or_a_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "c.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_config(str(path))
    except ConfigError:
        pass
