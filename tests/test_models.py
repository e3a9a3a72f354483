import pytest
import numpy as np
import torch

from fashionlab.cli import main
from fashionlab.models import build_model, model_names
from fashionlab.models.layers import UnitNormConv2d, apply_constraints
from fashionlab.models.summary import summarize

# From docs/paper-experiments.md: (trainable, total as Keras counts it, hidden layers as the paper counts them).
EXPECTED = {
    "ann-1": (567_434, 567_434, 3),
    "ann-2": (567_434, 567_434, 3),
    "ann-3": (576_810, 576_810, 5),
    "cnn-1": (871_338, 872_042, 14),
    "cnn-2": (871_402, 872_170, 15),
    "cnn-3": (585_130, 586_090, 19),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_and_layer_counts_match_the_paper_reconstruction(name):
    model = build_model(name)
    summary = summarize(model)
    assert (summary.trainable, summary.total, summary.hidden_layers) == EXPECTED[name]
    assert summary.trainable == sum(p.numel() for p in model.parameters())
    assert summary.rows[-1].output_shape == (None, 10)


def test_registry_lists_the_paper_models():
    assert set(EXPECTED) <= set(model_names())


def test_every_model_records_its_family():
    from fashionlab.models import model_entry

    for name in model_names():
        has_conv = any(isinstance(m, torch.nn.Conv2d) for m in build_model(name).modules())
        assert model_entry(name).family == ("cnn" if has_conv else "ann"), name
    assert model_entry("fastnet").family == "cnn" and model_entry("ann-3").family == "ann"


def test_models_show_prints_keras_like_summary(capsys):
    assert main(["models", "show", "cnn-2"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 872,170" in out and "Trainable params: 871,402" in out
    assert "(None, 7, 7, 64)" in out and "Conv2D (unit_norm)" in out


def test_unknown_model_exit_2(capsys):
    assert main(["models", "show", "cnn-4"]) == 2
    assert "unknown model 'cnn-4'" in capsys.readouterr().err


def _keras_unit_norm(w_torch: np.ndarray, axis) -> np.ndarray:
    """Keras's formula, w / (1e-7 + sqrt(sum(w**2, axis, keepdims))), on a Keras-layout kernel."""
    w = w_torch.transpose(2, 3, 1, 0)  # (out, in, rows, cols) -> Keras's (rows, cols, in, out)
    w = w / (1e-7 + np.sqrt(np.sum(w**2, axis=axis, keepdims=True)))
    return w.transpose(3, 2, 0, 1)


@pytest.mark.parametrize("axis, keras_axis", [("rows", 0), ("filter", (0, 1, 2))])
def test_unit_norm_matches_keras_formula(axis, keras_axis):
    conv = UnitNormConv2d(3, 5)
    with torch.no_grad():
        conv.weight.mul_(torch.linspace(0.5, 3.0, conv.weight.numel()).view_as(conv.weight))  # uneven norms
    expected = _keras_unit_norm(conv.weight.detach().double().numpy(), keras_axis)
    conv.apply_constraint(axis)
    np.testing.assert_allclose(conv.weight.detach().numpy(), expected, rtol=1e-5, atol=1e-7)
    other = _keras_unit_norm(conv.weight.detach().double().numpy(), (0, 1, 2) if axis == "rows" else 0)
    assert np.abs(conv.weight.detach().numpy() - other).max() > 1e-2  # the two axes really differ


def _row_norms(model):
    return torch.cat([m.weight.detach().norm(dim=2).flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d)])


def test_unit_norm_holds_after_optimizer_steps():
    torch.manual_seed(0)
    constrained, free = build_model("cnn-2"), build_model("cnn-1")
    for model in (constrained, free):
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(3):
            x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            apply_constraints(model)
    assert sum(isinstance(m, UnitNormConv2d) for m in constrained.modules()) == 4
    norms = _row_norms(constrained)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5, rtol=0)
    assert (_row_norms(free) - 1).abs().max() > 0.05  # the check can fail: unconstrained kernels drift


@pytest.mark.parametrize("name", model_names())
def test_registry_records_each_models_real_size(name):
    """`models list` prints the registry's recorded sizes without building a model: they must be the built model's."""
    from fashionlab.models import model_entry

    summary = summarize(build_model(name))
    entry = model_entry(name)
    assert (entry.parameters, entry.hidden_layers) == (summary.trainable, summary.hidden_layers)


def test_fastnet_refuses_stem_settings_it_would_not_build():
    from fashionlab.models.fast import FastNet

    with pytest.raises(ValueError, match="pooled_stem_block"):
        FastNet((16, 32, 64), stem_residual=True)  # the plain stem has no residual pair: it was silently dropped
    with pytest.raises(ValueError, match="stem_pool"):
        FastNet((16, 32, 64), stem_pool=False, pooled_stem_block=True)  # the pooled stem block pooled anyway
    with_pair = FastNet((16, 32, 64), pooled_stem_block=True, stem_residual=True)
    without = FastNet((16, 32, 64), pooled_stem_block=True)
    assert sum(p.numel() for p in with_pair.parameters()) > sum(p.numel() for p in without.parameters())


def test_fastnet_pool_first_runs_the_blocks_convolution_on_the_pooled_map():
    from fashionlab.models.fast import FastNet, fastnet3, fastnet3_pool_first, fastnet3_pool_first_both

    def conv_sides(model):  # each convolution's output side, in the order they run
        sides = []
        for conv in [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]:
            conv.register_forward_hook(lambda module, inputs, output: sides.append(output.shape[-1]))
        model.eval()(torch.zeros(2, 1, 28, 28))
        return sides

    # stem at 28, then each block's convolution and its residual pair at the pooled size
    assert conv_sides(fastnet3()) == [28, 14, 7, 7, 7, 3, 3]
    assert conv_sides(fastnet3_pool_first()) == [28, 14, 7, 7, 3, 3, 3]
    assert conv_sides(fastnet3_pool_first_both()) == [28, 7, 7, 7, 3, 3, 3]
    with pytest.raises(ValueError, match="one value per block"):
        FastNet((16, 32, 64), pool_first=(True,))


def test_models_list_and_config_checks_do_not_load_torch():
    """`models list` took 7 s when it built every model; the registry answers without PyTorch."""
    import subprocess
    import sys

    code = ("import sys\nfrom fashionlab.cli import main\nfrom fashionlab.experiment import load_config\n"
            "main(['models', 'list'])\nload_config('CNN-2')\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[-1] == "False"
    assert any(line.startswith("cnn-2") and "871,402" in line for line in lines)


def test_model_names_match_in_any_case(capsys):
    from fashionlab.models import model_entry

    assert model_entry("CNN-2").name == "cnn-2" and model_entry("FastNet").name == "fastnet"
    assert main(["models", "show", "ANN-3"]) == 0
    assert "Trainable params: 576,810" in capsys.readouterr().out
    assert main(["models", "show", "cnn2"]) == 2
    assert "Did you mean 'cnn-2'" in capsys.readouterr().err


def test_fast_dropout_keeps_the_rate_scales_and_masks_the_gradient_in_any_layout():
    from fashionlab.models.layers import Dropout

    dropout = Dropout(0.2)
    for dtype in (torch.float32, torch.bfloat16):
        for channels_last in (False, True):
            x = torch.rand(64, 32, 14, 14, dtype=dtype).add_(0.5)  # no zeros, so a zero output means dropped
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            x.requires_grad_()
            y = dropout(x)
            kept = y != 0
            assert y.stride() == x.stride()  # the mask is laid out as x is: one contiguous multiply
            assert abs(kept.float().mean().item() - 0.8) < 0.01  # 401,408 draws: sd 0.0006
            torch.testing.assert_close(y[kept], x.detach()[kept] * 1.25)  # inverted dropout, as nn.Dropout
            y.sum().backward()
            assert torch.equal(x.grad != 0, kept) and torch.all(x.grad[kept] == 1.25)
    torch.manual_seed(3)
    a = dropout(torch.ones(1000))
    torch.manual_seed(3)
    assert torch.equal(a, dropout(torch.ones(1000)))  # seeded from torch's generator: a run's seed fixes it
    assert not torch.equal(a, dropout(torch.ones(1000)))
    assert torch.equal(dropout.eval()(x), x)  # identity when scoring


def test_unit_norm_fast_path_is_the_plain_formula_bit_for_bit():
    from fashionlab.models.layers import UNIT_NORM_DIMS, UnitNormConv2d

    for axis in ("rows", "filter"):
        conv = UnitNormConv2d(32, 64).to(memory_format=torch.channels_last)
        w = conv.weight.detach().clone()
        conv.apply_constraint(axis)
        assert torch.equal(conv.weight, w / (w.square().sum(dim=UNIT_NORM_DIMS[axis], keepdim=True).sqrt() + 1e-7))


def test_dirac_init_makes_each_convolution_pass_its_input_through():
    from fashionlab.models.init import dirac_

    torch.manual_seed(0)
    model = build_model("fastnet2")
    assert dirac_(model) == 7  # every 3x3 conv: the stem, two blocks and their two residual pairs
    conv = model.blocks[0].conv  # 32 -> 64 channels: the first 32 filters are the identity, the rest untouched
    x = torch.randn(2, 32, 7, 7)
    assert torch.allclose(torch.nn.functional.conv2d(x, conv.weight[:32], padding=1), x)
    assert conv.weight[32:].abs().sum() > 0


def test_whitening_init_decorrelates_the_first_convolutions_patches():
    from fashionlab.models.init import whiten_first_conv_

    torch.manual_seed(0)
    images = torch.nn.functional.avg_pool2d(torch.rand(200, 1, 30, 30), 3, stride=1)  # correlated neighbours
    model = build_model("fastnet2")
    assert whiten_first_conv_(model, images) == 18  # +- the 9 eigen-filters of 3x3 patches
    weight = model.stem.conv.weight
    out = torch.nn.functional.conv2d(images, weight[:9]).permute(1, 0, 2, 3).flatten(1)
    cov = torch.cov(out)
    assert torch.allclose(cov, torch.diag(cov.diagonal()), atol=1e-3)  # decorrelated
    assert cov.diagonal()[0] > 0.9  # unit variance where the eigenvalue dwarfs eps
    assert torch.equal(weight[9:18], -weight[:9])


def _conv_grads(conv, x, autocast: bool):
    conv.zero_grad()
    x = x.detach().clone().requires_grad_()
    with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
        y = conv(x)
    y.float().square().sum().backward()
    return y, x.grad.float(), conv.weight.grad.float()


@pytest.mark.parametrize("side, gemm", [(3, True), (4, True), (7, False)])
def test_conv3x3_weight_gradient_by_gemm_matches_conv2d(side, gemm):
    from fashionlab.models.conv3x3 import Conv3x3

    torch.manual_seed(0)
    conv = Conv3x3(24, 40).to(memory_format=torch.channels_last)
    plain = torch.nn.Conv2d(24, 40, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
    assert {k: v.shape for k, v in conv.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(32, 24, side, side).contiguous(memory_format=torch.channels_last)

    y, grad_x, grad_w = _conv_grads(conv, x, autocast=True)
    assert ("_GemmWeightGrad" in type(y.grad_fn).__name__) == gemm  # the GEMM only on maps of at most 4x4
    y_plain, grad_x_plain, grad_w_plain = _conv_grads(plain, x, autocast=True)
    assert torch.equal(y, y_plain)  # the forward is oneDNN's either way
    # fp64 truth of the same bf16-rounded operands: both paths are as close to it as bf16 allows
    x64 = x.to(torch.bfloat16).double().requires_grad_()
    w64 = conv.weight.detach().to(torch.bfloat16).double().requires_grad_()
    y64 = torch.nn.functional.conv2d(x64, w64, padding=1)
    y64.backward(2 * y.double())  # d(sum y^2)/dy, with the bf16 forward's y, as both paths saw it
    for ours, theirs, truth in ((grad_w, grad_w_plain, w64.grad), (grad_x, grad_x_plain, x64.grad)):
        error = ((ours.double() - truth).norm() / truth.norm()).item()
        assert error < 1e-2 and error <= 1.5 * ((theirs.double() - truth).norm() / truth.norm()).item() + 1e-3


def test_conv3x3_takes_conv2ds_own_path_outside_bf16_training():
    from fashionlab.models.conv3x3 import Conv3x3

    conv, x = Conv3x3(8, 8), torch.randn(4, 8, 3, 3)
    assert "_GemmWeightGrad" not in type(conv(x).grad_fn).__name__  # fp32
    conv.eval()
    with torch.autocast("cpu", torch.bfloat16):
        assert "_GemmWeightGrad" not in type(conv(x).grad_fn).__name__  # evaluation
    conv.train()
    Conv3x3.gemm_weight_grad = False
    try:
        with torch.autocast("cpu", torch.bfloat16):
            assert "_GemmWeightGrad" not in type(conv(x).grad_fn).__name__  # switched off for benchmarks
    finally:
        Conv3x3.gemm_weight_grad = True


def test_profile_step_counts_conv3x3s_weight_gradient_gemm_as_convolution(load_benchmark):
    """benchmarks/profile_step.py once counted the GEMM inside Conv3x3's weight gradient as a dense
    layer, and printed the convolutions at 115% of the machine's GEMM rate (session 16)."""
    from torch.profiler import ProfilerActivity, profile

    from fashionlab.models.conv3x3 import Conv3x3

    profile_step = load_benchmark("profile_step")
    conv, dense = Conv3x3(8, 16), torch.nn.Linear(16 * 9, 10)
    x = torch.randn(4, 8, 3, 3).contiguous(memory_format=torch.channels_last)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with torch.autocast("cpu", torch.bfloat16):
            y = dense(conv(x).flatten(1))
        y.float().sum().backward()
    kinds = {}
    for event in prof.events():
        if event.name == "aten::mm":
            kinds.setdefault(profile_step.kind_of(event), []).append(event)
    # the dense layer's backward GEMM(s), and exactly one in the convolution's weight gradient
    assert len(kinds.get("convolution", [])) == 1 and kinds.get("dense layers"), kinds


def test_step_overhead_rehearses_on_the_cpu_and_its_steps_learn(load_benchmark, capsys):
    """benchmarks/step_overhead.py, as a session without a GPU can run it: the eager mode trains
    (the CUDA test's check that graph and eager agree relies on the loss moving), and the graph mode
    says it needs CUDA instead of failing."""
    step_overhead = load_benchmark("step_overhead")
    for name in ("ann-1", "ann-2", "ann-3"):
        seconds, warm, timed = step_overhead.time_mode(name, "eager", torch.device("cpu"), "fp32", 20)
        assert seconds > 0 and timed < warm - 0.05, (name, warm, timed)
    step_overhead.main(["ann-3", "--device", "cpu", "--modes", "eager", "graph", "--steps", "3"])
    out = capsys.readouterr().out
    assert "ann-3 eager:" in out and "ms per step" in out and "ann-3 graph: skipped" in out, out
