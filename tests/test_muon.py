import pytest
import torch

from fashionlab.experiment import load_config
from fashionlab.muon import MuonSGD, orthogonalize
from fashionlab.training import Interrupted, make_optimizer, parameter_groups, train


def polar_factor(matrix: torch.Tensor) -> torch.Tensor:
    u, _, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    return u @ vh


def ill_conditioned(rows: int, cols: int) -> torch.Tensor:
    """A random matrix whose singular values span two decades."""
    u, _, vh = torch.linalg.svd(torch.randn(rows, cols), full_matrices=False)
    return u @ torch.diag(torch.logspace(0, -2, min(rows, cols))) @ vh


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


@pytest.mark.parametrize("shape", [(192, 1728), (64, 144), (16, 9)])
def test_orthogonalize_is_close_to_the_polar_factor_even_for_an_ill_conditioned_matrix(shape):
    torch.manual_seed(0)
    matrix = ill_conditioned(*shape)
    result = orthogonalize(matrix)
    singular = torch.linalg.svdvals(result.double())
    assert result.shape == matrix.shape and result.dtype == matrix.dtype
    assert singular.max() < 1.3 and singular.max() / singular.min() < 15  # the input's ratio is 100
    assert cosine(result, polar_factor(matrix)) > 0.85
    assert cosine(matrix, polar_factor(matrix)) < 0.7  # the raw matrix is far from it: the iteration did the work


def test_groups_without_muon_step_exactly_as_torch_nesterov_sgd():
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(6, 3), torch.nn.Linear(6, 3)
    theirs.load_state_dict(ours.state_dict())
    muon_sgd = MuonSGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sgd = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    for _ in range(3):
        x = torch.randn(4, 6)
        for model, opt in ((ours, muon_sgd), (theirs, sgd)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_muon_rescales_a_filter_bank_then_moves_it_along_the_orthogonalized_nesterov_momentum():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(8, 4, 3, 3) * 3)
    lr, mu = 0.05, 0.6
    opt = MuonSGD([{"params": [weight], "muon": True}], lr=lr, momentum=0.9, muon_momentum=mu)
    grads = [ill_conditioned(8, 36).view(8, 4, 3, 3) for _ in range(2)]
    buffer = torch.zeros_like(weight)
    for grad in grads:
        before = weight.detach().clone()
        weight.grad = grad
        opt.step()
        buffer = mu * buffer + grad
        nesterov = (grad + mu * buffer).reshape(8, -1)  # one row per output filter
        expected = before * (8 ** 0.5 / before.norm()) - lr * orthogonalize(nesterov).view(8, 4, 3, 3)
        torch.testing.assert_close(opt.state[weight]["momentum_buffer"], buffer)
        torch.testing.assert_close(weight.detach(), expected)
    assert cosine(nesterov, polar_factor(nesterov)) < 0.8  # so a step along the raw momentum would fail the check


def test_a_channels_last_bank_takes_the_same_steps_as_a_contiguous_one():
    torch.manual_seed(0)
    plain = torch.nn.Parameter(torch.randn(8, 4, 3, 3))
    channels_last = torch.nn.Parameter(plain.detach().clone().contiguous(memory_format=torch.channels_last))
    opts = [MuonSGD([{"params": [w], "muon": True}], lr=0.05, momentum=0.9) for w in (plain, channels_last)]
    for _ in range(2):
        grad = torch.randn(8, 4, 3, 3)
        plain.grad, channels_last.grad = grad, grad.contiguous(memory_format=torch.channels_last)
        for opt in opts:
            opt.step()
    assert channels_last.is_contiguous(memory_format=torch.channels_last) and not channels_last.is_contiguous()
    torch.testing.assert_close(channels_last.detach(), plain.detach(), rtol=2e-2, atol=2e-3)  # bf16 sums in another order


def test_muon_refuses_vectors_in_its_group():
    with pytest.raises(ValueError, match="filter banks"):
        MuonSGD([{"params": [torch.nn.Parameter(torch.ones(3))], "muon": True}], lr=0.1, momentum=0.9)


def test_optimizer_muon_gives_every_convolution_filter_to_muon_and_the_rest_to_sgd():
    from fashionlab.models import build_model

    model = build_model("fastnet3")
    config = load_config("fast", {"optimizer": "muon", "muon_lr": 0.1})
    groups = parameter_groups(config, model)
    filters, norm_biases, rest = groups
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert filters["muon"] and [id(p) for p in filters["params"]] == [id(m.weight) for m in convs] and len(convs) == 7
    assert filters["lr_scale"] == pytest.approx(0.1 / config.learning_rate)
    assert norm_biases["lr_scale"] == config.bn_bias_lr_scale
    every = [id(p) for g in groups for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in model.parameters()) and len(set(every)) == len(every)
    assert all(p.ndim < 4 for p in rest["params"])
    assert isinstance(make_optimizer(config, groups), MuonSGD)


def test_a_muon_run_trains_resumes_exactly_and_differs_from_sgd(synthetic_dir, tmp_path):
    overrides = {"epochs": 2, "train_limit": 200, "batch_size": 50, "device": "cpu", "validation_split": 0.2}
    config = load_config("fast", {**overrides, "optimizer": "muon", "muon_lr": 0.1})
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    straight = train(config, tmp_path / "a", **kwargs)
    with pytest.raises(Interrupted):
        train(config, tmp_path / "b", should_stop=lambda e, s: (e, s) == (1, 2), **kwargs)
    resumed = train(config, tmp_path / "b", resume=True, **kwargs)
    strip = lambda history: [{k: v for k, v in row.items() if "seconds" not in k} for row in history]  # noqa: E731
    assert strip(resumed.history) == strip(straight.history)
    assert resumed.metrics["test_accuracy"] == straight.metrics["test_accuracy"]
    sgd = train(load_config("fast", overrides), tmp_path / "c", **kwargs)
    assert strip(sgd.history) != strip(straight.history)


def test_optimizer_muon_on_a_network_without_convolutions_is_one_line_exit_2_and_writes_nothing(synthetic_dir, tmp_path,
                                                                                                capsys):
    from conftest import one_line_exit_2

    err = one_line_exit_2(["train", "ann-2", "--set", "optimizer=muon", "--data-dir", str(synthetic_dir),
                           "--out", str(tmp_path / "r")], capsys)
    assert "model 'ann-2' has none" in err and "optimizer sgd" in err
    assert not (tmp_path / "r").exists()
