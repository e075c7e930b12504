"""Gated recurrent networks: the LSTM, the GRU and the plain tanh RNN on the adding problem and copy
memory (`experiments`), and the length sweep that measures the lecture's claim that gated cells
learn longer dependencies (`report`: its table and figure). The modules are milestones.nn.rnn's."""
from milestones.families.rnn import experiments, report
from milestones.family import Demo, Family


def _demo_result(result: dict, run_dir) -> str:
    m = result["metrics"]
    return (f"demo: test MSE {m['test_mse']:.3g} against the baseline {m['baseline']:.3g} "
            f"({'solved' if m['solved'] else 'not solved yet'}) in {result['wall_time_s']:.0f} s")


FAMILY = Family(
    name="rnn",
    title="Gated recurrent networks",
    experiments=experiments.EXPERIMENTS,
    headlines=("rnn/adding-t200/lstm", "rnn/adding-t200/gru", "rnn/copy-t100/lstm"),
    sections=report.sections,
    readme_tables={"sweep": report.sweep_table},
    group_figure=report.group_figure,
    demos=(Demo("rnn/adding-t100/lstm", {"steps": 2000, "eval_every": 50, "test_size": 500},
                "for 2000 steps on CPU-sized settings", _demo_result),),
)
