"""How much of a paper experiment's training step is launch overhead: the step three ways, one device.

Run on purpose (not in CI), for the next GPU session: on an H200 the paper's ANNs took about 2.5 ms a
step (session 21), for networks that cost the GPU microseconds of arithmetic, and ann-1's 1,000 epochs
then set the full reproduction's time (about 19 minutes). Each mode trains the same freshly seeded
model on the same batches of synthetic images, on the device, and prints milliseconds per step (the
device synchronized before and after the timed steps) and the mean loss of the timed steps: close
between modes (the same in fp32 without dropout; with dropout or bf16 only alike):

  eager     fashionlab's TrainStep with the plain model;
  compiled  TrainStep with the torch.compile'd forward, what training runs on CUDA (compile = "auto");
  graph     forward, loss, backward, optimizer step and constraints captured once in one CUDA graph
            and replayed, the batch copied into the graph's input first (CUDA only: PyTorch's
            whole-network capture recipe; Adam with capturable state). The capture's warm-up steps
            are undone, so it trains from the same start; tests/test_cuda.py checks that it trains
            as the eager step does, in fp32.

Augmentation is off in every mode (it draws from a generator that a graph would have to register),
so a CNN's step here is its step without flip and zoom.

    python benchmarks/step_overhead.py ann-1 ann-3 cnn-1 --device cuda
    python benchmarks/step_overhead.py ann-1 --device cpu --modes eager --steps 50   # a rehearsal
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import gemm_gflops  # noqa: E402

MODES = ("eager", "compiled", "graph")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="+", help="paper experiments (ann-1 ... cnn-3) or presets")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--steps", type=int, default=400, help="timed steps per mode (after as many warm-up steps)")
    args = parser.parse_args(argv)

    import torch

    from fashionlab.device import resolve_device

    device = resolve_device(args.device)
    if device.type == "cuda":  # gpu_session.sh prints the GPU's GEMM rates beside this
        where = torch.cuda.get_device_name(device)
    else:
        where = f"host GEMM {gemm_gflops(args.precision):,.0f} GFLOP/s"
    print(f"{device.type} ({where}), torch {torch.__version__}, {torch.get_num_threads()} threads, {args.precision}")
    for name in args.experiments:
        times = {}
        for mode in args.modes:
            if mode == "graph" and device.type != "cuda":
                print(f"{name} graph: skipped (CUDA graphs need a CUDA device)")
                continue
            try:
                seconds, _, loss = time_mode(name, mode, device, args.precision, args.steps)
            except Exception as error:  # one mode failing (the graph's first run on a GPU) must not cost the others
                print(f"{name} {mode}: failed: {type(error).__name__}: {error}", flush=True)
                continue
            times[mode] = seconds
            first = args.modes[0]
            ratio = f", {times[first] / seconds:.2f}x {first}'s speed" if mode != first and first in times else ""
            print(f"{name} {mode}: {seconds * 1e3:.3f} ms per step{ratio}; mean loss {loss:.4f}", flush=True)


def time_mode(name: str, mode: str, device, precision: str, steps: int) -> tuple[float, float, float]:
    """Seconds per step, and the mean losses of the warm-up steps and of the `steps` timed steps after them."""
    import torch

    from fashionlab.device import place_model
    from fashionlab.experiment import load_config
    from fashionlab.models import build_model
    from fashionlab.training import TrainStep, make_optimizer, parameter_groups

    config = load_config(name, {"precision": precision, "device": device.type, "augment": False})
    torch._dynamo.reset()  # each compiled mode compiles as a fresh process would (as training does)
    torch.manual_seed(0)
    model, channels_last = place_model(build_model(config.model), device)
    model.train()
    optimizer = make_optimizer(config, parameter_groups(config, model))
    bs = config.batch_size
    generator = torch.Generator().manual_seed(0)
    # Images with a pattern per class, so that every optimizer here lowers the loss within a few steps.
    labels = torch.randint(0, 10, (8 * bs,), generator=generator)
    patterns = torch.rand(10, 1, 28, 28, generator=generator)
    images = (0.5 * torch.rand(8 * bs, 1, 28, 28, generator=generator) + 0.5 * patterns[labels]).to(device)
    labels = labels.to(device)
    batches = [(images[i * bs:(i + 1) * bs], labels[i * bs:(i + 1) * bs]) for i in range(8)]

    if mode == "graph":
        step = graph_step(model, optimizer, config, precision, channels_last, batches[0])
    else:
        forward = torch.compile(model) if mode == "compiled" else None
        step = TrainStep(model, optimizer, config, torch.Generator(device=device).manual_seed(1), channels_last,
                         precision, forward=forward)

    def run(n: int) -> torch.Tensor:
        total = torch.zeros((), device=device)
        for i in range(n):
            x, y = batches[i % len(batches)]
            total += step(x, y)[0]
        return total

    warm = run(steps)  # warm-up: compilation, cuDNN's choices, the allocator's pools
    synchronize(device)
    started = time.perf_counter()
    timed = run(steps)
    synchronize(device)
    return (time.perf_counter() - started) / steps, warm.item() / steps, timed.item() / steps


def graph_step(model, optimizer, config, precision: str, channels_last: bool, example):
    """A step function replaying one CUDA graph of the whole step (PyTorch's whole-network capture)."""
    import torch
    import torch.nn.functional as F

    from fashionlab.models.layers import apply_constraints

    if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        for group in optimizer.param_groups:
            group["capturable"] = True  # its step count lives on the device, so the graph can advance it
    static_x = example[0].clone()
    static_y = example[1].clone()
    if channels_last:
        static_x = static_x.contiguous(memory_format=torch.channels_last)

    def body() -> torch.Tensor:
        # cache_enabled=False: autocast's cast cache must not outlive the capture
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False):
            logits = model(static_x)
            loss = F.cross_entropy(logits.float(), static_y, label_smoothing=config.label_smoothing)
        loss.backward()
        optimizer.step()
        apply_constraints(model, config.unit_norm_axis)
        return loss

    start = {key: value.detach().clone() for key, value in model.state_dict().items()}
    side = torch.cuda.Stream()  # warm-up on a side stream before capture, as the recipe asks
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            body()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)  # the captured backward allocates the gradients from the graph's pool
    with torch.cuda.graph(graph):
        static_loss = body()
    # Undo the warm-up's three steps in place (the graph holds these tensors' addresses), so that this
    # mode trains from the same start as the others: the weights and BatchNorm statistics as built, the
    # optimizer's state as new. Zeroed state is a fresh state for every optimizer here (SGD's first
    # momentum step then sets its buffer to the gradient, as a missing buffer does; Adam's count is 0).
    with torch.no_grad():
        for key, value in model.state_dict().items():
            value.copy_(start[key])
        for state in optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    value.zero_()

    def step(x, y):
        static_x.copy_(x)
        static_y.copy_(y)
        graph.replay()
        return static_loss.detach().clone(), None

    return step


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
