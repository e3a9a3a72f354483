import numpy as np
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
