import pytest

from fashionlab.cli import main
from fashionlab.errors import ConfigError
from fashionlab.experiment import config_from_dict, load_config, preset_names

# The paper's protocol table (docs/paper-experiments.md), fixed.
PAPER = {
    "ann-1": ("ann-1", "rmsprop", 1e-3, 1000, 100, 0.33, False),
    "ann-2": ("ann-2", "sgd", 0.025, 1000, 200, 0.33, False),
    "ann-3": ("ann-3", "adam", 1e-3, 100, 50, 0.33, False),
    "cnn-1": ("cnn-1", "adam", 1e-3, 50, 32, 0.20, True),
    "cnn-2": ("cnn-2", "sgd", 0.01, 50, 32, 0.20, True),
    "cnn-3": ("cnn-3", "rmsprop", 1e-3, 50, 32, 0.20, True),
}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_presets_hold_the_papers_protocol(name):
    c = load_config(name)
    assert (c.model, c.optimizer, c.learning_rate, c.epochs, c.batch_size, c.validation_split, c.augment) == PAPER[name]
    if c.augment:
        assert c.flip and c.zoom == 0.1


def test_presets_are_shipped():
    assert set(PAPER) <= set(preset_names())


def test_overrides_apply_and_are_validated():
    c = load_config("cnn-2", {"epochs": 3, "seed": 7, "lr": None})
    assert (c.epochs, c.seed, c.lr) == (3, 7, 0.01)
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        load_config("cnn-2", {"batch_size": 0})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epoch": 3}, "unknown key 'epoch'. Did you mean 'epochs'?"),
        ({"epochs": "3"}, "epochs must be int, got str"),
        ({"epochs": 2.5}, "epochs must be int, got float"),
        ({"augment": 1}, "augment must be bool"),
        ({"validation_split": 1.0}, r"validation_split must be in \(0, 1\)"),
        ({"validation_split": 0}, r"validation_split must be in \(0, 1\)"),
        ({"optimizer": "lion"}, "optimizer must be one of adam, rmsprop, sgd, adamw"),
        ({"model": "cnn2"}, "unknown model 'cnn2'. Did you mean 'cnn-2'?"),
    ],
)
def test_bad_values_are_rejected_clearly(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values, "test.toml")


def test_bad_config_file_exit_2_no_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "cnn-1"\nvalidation_splt = 0.2\n')
    assert main(["train", str(bad), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "validation_splt" in err and "validation_split" in err and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing half-written

    bad.write_text("epochs = [\n")
    assert main(["train", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err

    assert main(["train", "cnn-22"]) == 2
    assert "Did you mean 'cnn-2'" in capsys.readouterr().err


def test_bad_flag_value_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "cnn-2", "--epochs", "many"])
    assert exit_info.value.code == 2
    assert main(["train", "cnn-2", "--optimizer", "lion"]) == 2
    assert "optimizer must be one of" in capsys.readouterr().err
