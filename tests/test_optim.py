import numpy as np
import pytest
import torch

from fashionlab.experiment import load_config
from fashionlab.optim import KerasRMSprop
from fashionlab.training import make_optimizer


def keras_rmsprop_steps(w, grads, lr=1e-3, rho=0.9, eps=1e-7):
    """tf_keras optimizers/rmsprop.py, dense branch: v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps)."""
    v = np.zeros_like(w)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        w = w - lr * g / np.sqrt(v + eps)
    return w


def test_keras_rmsprop_matches_keras_formula_and_differs_from_pytorch():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 4))
    grads = [rng.normal(size=(5, 4)) * scale for scale in (1e-2, 1e-4, 1e-6)]  # tiny gradients: where the two differ
    w = torch.tensor(w0, requires_grad=True)
    opt = KerasRMSprop([w], lr=1e-3)
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), keras_rmsprop_steps(w0, grads), rtol=0, atol=1e-12)

    p = torch.tensor(w0, requires_grad=True)
    torch_opt = torch.optim.RMSprop([p], lr=1e-3, alpha=0.9, eps=1e-7)
    for g in grads:
        p.grad = torch.tensor(g)
        torch_opt.step()
    assert np.abs(p.detach().numpy() - w.detach().numpy()).max() > 1e-4  # PyTorch's eps placement is not Keras's


def test_rmsprop_presets_use_keras_rmsprop_and_it_resumes_from_state_dict():
    model = torch.nn.Linear(3, 2)
    opt = make_optimizer(load_config("ann-1"), model.parameters())
    assert isinstance(opt, KerasRMSprop) and opt.param_groups[0]["lr"] == 1e-3
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    again = make_optimizer(load_config("cnn-3"), model.parameters())
    again.load_state_dict(opt.state_dict())
    assert torch.equal(again.state[model.weight]["square_avg"], opt.state[model.weight]["square_avg"])


def test_bn_bias_lr_scale_gives_batchnorm_biases_their_own_rate_and_weight_decay(synthetic_dir, tmp_path):
    from fashionlab.models import build_model
    from fashionlab.training import parameter_groups, train

    model = build_model("fastnet2")
    config = load_config("fast", {"bn_bias_lr_scale": 8.0})
    norm_biases, rest = parameter_groups(config, model)
    assert len(norm_biases["params"]) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 7
    assert norm_biases["lr_scale"] == 8.0 and norm_biases["weight_decay"] == config.weight_decay / 8
    assert len(norm_biases["params"]) + len(rest["params"]) == len(list(model.parameters()))
    assert len(parameter_groups(load_config("best", {"optimizer": "sgd"}), model)) == 1  # off: one group, as before the key existed

    config = load_config("fast", {"epochs": 1, "train_limit": 200, "batch_size": 50, "device": "cpu",
                                  "bn_bias_lr_scale": 8.0})
    result = train(config, tmp_path / "r", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    groups = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=False)["optimizer"]["param_groups"]
    assert groups[0]["lr"] == pytest.approx(8 * groups[1]["lr"]) and groups[1]["lr"] > 0
    assert result.history[-1]["lr"] == groups[1]["lr"]  # history records the schedule, not the scaled group
