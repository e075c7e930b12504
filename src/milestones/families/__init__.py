"""The built-in model families, one package each; `milestones.family.Family` says what a package
offers and `milestones.registry` how the core finds it.

Adding a family: write its package (see the README's "Adding a family"), then name it here. The
order is that of `milestones list`, the report, the README tables and the demo.
"""
BUILTIN = (
    "milestones.families.rnn",
    "milestones.families.ntm",
    "milestones.families.gan",
    "milestones.families.memory",
    "milestones.families.dqn",
    "milestones.families.alphazero",
    "milestones.families.alphago",
)
