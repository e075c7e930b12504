"""Deep Q-Networks (Mnih et al. 2015) on CartPole, MinAtar and Atari (`experiments`), their figures
(returns beside the paper's and the human's, the t-SNE of Nature Fig. 4, an episode as a GIF) and
the table with the human-normalized scores (`report`). The agent's parts are milestones.rl's."""
from milestones.families.dqn import experiments, pqn, report
from milestones.family import Family

FAMILY = Family(
    name="dqn",
    title="Deep Q-Networks",
    experiments=experiments.EXPERIMENTS + pqn.EXPERIMENTS,
    headlines=("dqn/cartpole",),
    sections=report.sections,
    readme_tables={"dqn": report.games_table},
    group_figure=report.group_figure,
)
