"""AlphaGo on small boards (Silver et al. 2016): Go rules (milestones.games.go), SGF and GTP
(milestones.go), matches against GNU Go; the recipes of the SL policy, RL policy and value networks
(`experiments`), the rollout policy p_π (`rollout_policy`), AlphaZero-style training from the SL
network (`zero`) and the ladder of Extended Data Table 7's players against GNU Go (`ladder`). Its
commands: `milestones gtp` (our engine behind the Go Text Protocol), `milestones match` (two GTP
engines, N games, SGFs and the win rate's interval) and `milestones gnugo-games` (expert games)."""
from milestones.families.alphago import commands, experiments, ladder, report, rollout_policy, zero
from milestones.family import Command, Family
from milestones.games.game import GameError
from milestones.go.match import GtpFailure
from milestones.go.sgf import SgfError

FAMILY = Family(
    name="alphago",
    title="AlphaGo: Go with policy and value networks and tree search",
    experiments=experiments.EXPERIMENTS + rollout_policy.EXPERIMENTS + zero.EXPERIMENTS + ladder.EXPERIMENTS,
    sections=report.sections,
    readme_tables={"alphago-networks": report.networks_table, "alphago-ladder": report.ladder_table},
    errors=(GameError, SgfError, GtpFailure),
    commands=(
        Command("gtp", "a Go engine on stdin/stdout speaking GTP v2 (for GUIs, GNU Go, match runners)",
                commands.gtp_arguments, commands.gtp_command),
        Command("match", "play two GTP engines against each other (ours, GNU Go at a level, any program): "
                "SGFs and the win rate with its 95 %% interval", commands.match_arguments, commands.match_command),
        Command("gnugo-games", "generate expert games for the policy network: GNU Go playing itself from random "
                "openings, one SGF each (stop and rerun to continue)", commands.gnugo_games_arguments,
                commands.gnugo_games_command),
    ),
)
