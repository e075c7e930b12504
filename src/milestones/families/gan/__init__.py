"""GANs: the mixture-of-Gaussians experiments of The Numerics of GANs and the papers around it
(`experiments`), the same methods on Fashion-MNIST (`fashion`), their figures and tables (`figures`,
`report`). Losses, consensus optimization and the players are milestones.gan's."""
from milestones.families.gan import experiments, fashion, report
from milestones.family import Dataset, Demo, Family
from milestones.gan.idx import FASHION_SOURCE, IdxError, download_fashion_mnist


def _demo_result(result: dict, run_dir) -> str:
    m = result["metrics"]
    return (f"demo: consensus optimization found {m['modes']:.0f} of 8 modes with {m['hq_percent']:.1f} % "
            f"high-quality samples in {result['wall_time_s']:.0f} s; its samples: {run_dir / 'plots'}")


FAMILY = Family(
    name="gan",
    title="Generative adversarial networks",
    experiments=experiments.EXPERIMENTS + fashion.EXPERIMENTS,
    headlines=("gan/ring-conopt", "gan/grid-conopt-ema-4x64", "gan/fashion-dcgan"),
    sections=report.sections,
    readme_tables={"mixtures": report.mixtures_table, "images": report.images_table},
    readme_figures=report.readme_figures,
    demos=(Demo("gan/ring-conopt", {"steps": 10_000, "eval_every": 250}, "for 10000 steps, half the recipe's",
                _demo_result),),
    datasets=(Dataset("fashion-mnist", FASHION_SOURCE, download_fashion_mnist),),
    errors=(IdxError,),
)
