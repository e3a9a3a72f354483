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


def test_extends_a_preset_changes_only_what_it_names(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "cnn-2"\nepochs = 3\nlabel = "cnn-2, 3 epochs"\n')
    config, preset = load_config(str(mine)), load_config("cnn-2")
    assert (config.epochs, config.label) == (3, "cnn-2, 3 epochs")
    assert {k: v for k, v in config.to_dict().items() if k not in ("epochs", "label")} == \
           {k: v for k, v in preset.to_dict().items() if k not in ("epochs", "label")}


def test_extends_another_file_relative_to_it_and_overrides_win(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "common.toml").write_text('extends = "FAST"\nseed = 5\nlr = 0.1\n')  # a preset, any case
    (tmp_path / "exp").mkdir()
    child = tmp_path / "exp" / "child.toml"
    child.write_text('extends = "../base/common.toml"\nlr = 0.05\n')
    config = load_config(str(child), {"epochs": 2})
    assert (config.model, config.seed, config.lr, config.epochs) == ("fastnet3", 5, 0.05, 2)


@pytest.mark.parametrize("files, message", [
    ({"a.toml": 'extends = "b.toml"', "b.toml": 'extends = "a.toml"'}, r"extends makes a cycle \(.*a.toml -> .*b.toml -> .*a.toml\)"),
    ({"a.toml": 'extends = "a.toml"'}, "extends makes a cycle"),
    ({"a.toml": 'extends = "cnn-22"'}, "a.toml: extends 'cnn-22', which is neither a preset nor a TOML file. Did you mean 'cnn-2'"),
    ({"a.toml": 'extends = "missing.toml"'}, "missing.toml: no such config file"),
    ({"a.toml": "extends = 3"}, "extends must be a preset name or a TOML file path"),
    ({"a.toml": 'extends = "b.toml"', "b.toml": "epoch = 3"}, r"b.toml: unknown key 'epoch'"),  # names the file at fault
])
def test_bad_extends_is_a_config_error_naming_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path / "a.toml"))


def test_preset_and_model_names_match_in_any_case(tmp_path, capsys):
    assert load_config("CNN-2") == load_config("cnn-2")
    assert config_from_dict({"model": "FastNet-Wide"}).model == "fastnet-wide"
    assert main(["train", "CNN-22", "--out", str(tmp_path / "never")]) == 2
    assert "Did you mean 'cnn-2'" in capsys.readouterr().err


def test_train_help_lists_every_preset(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(f"{name}," in text or f"{name};" in text for name in preset_names())
    assert "--precision {auto,fp32,bf16}" in text and "--threads N" in text and "--label TEXT" in text
