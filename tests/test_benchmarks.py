"""The machine-state figures every timing benchmark prints beside its times (benchmarks/machine.py)."""

import pytest


def test_machine_state_times_the_reference_workload_in_fp32_and_bf16(load_benchmark, capsys):
    """A bf16 preset's time is read against the bf16 workload (session 22: on the Xeon with AMX the
    fp32 one ran faster while bf16 epochs ran slower), so both are measured and printed."""
    machine = load_benchmark("machine")
    state = machine.measure_machine_state(reference_steps=2)
    assert state["reference_steps"] == 2
    assert state["reference_seconds"] > 0 and state["reference_seconds_bf16"] > 0, state
    line = capsys.readouterr().out
    assert "2 steps in" in line and " s fp32, " in line and " s bf16" in line, line
    assert "reference_seconds" not in machine.measure_machine_state(reference_steps=0)
    with pytest.raises(ValueError, match="fp32 or bf16"):
        machine.reference_workload_seconds(1, precision="fp16")
