"""Neural Turing Machines and their stacked-LSTM baselines on the paper's five algorithmic tasks
(`experiments`); the heads' figure (`figures`) and the generalisation table (`report`). The model is
milestones.nn.ntm's, the tasks milestones.tasks.algorithmic's."""
from milestones.families.ntm import experiments, report
from milestones.family import Demo, Family


def _demo_result(result: dict, run_dir) -> str:
    m = result["metrics"]
    return (f"demo: NTM copy costs {m['test_bits']:.3g} bits per sequence ({m['test_bit_errors']:.3g} wrong "
            f"bits) on lengths 1-20 in {result['wall_time_s']:.0f} s; its heads: {run_dir / 'plots'}")


FAMILY = Family(
    name="ntm",
    title="Neural Turing Machines",
    experiments=experiments.EXPERIMENTS,
    headlines=("ntm/copy", "ntm/associative-recall", "ntm/priority-sort"),
    sections=report.sections,
    readme_tables={"generalization": report.generalization_table},
    demos=(Demo("ntm/copy", {"sequences": 40_000, "minutes": 0.0, "compile": False}, "on 40000 sequences",
                _demo_result),),
)
