"""Memory networks on bAbI: End-to-End Memory Networks and Recurrent Entity Networks (`experiments`),
the lecture's claim about how the gradient reaches softmax and gated memory (`gradients`), their
figures and tables (`figures`, `report`). The reader, the models and their training are
milestones.memory's."""
from milestones.families.memory import experiments, gradients, report
from milestones.family import Dataset, Family
from milestones.memory import babi_download
from milestones.memory.babi import BabiFormatError

FAMILY = Family(
    name="memory",
    title="Memory networks",
    experiments=experiments.EXPERIMENTS + gradients.EXPERIMENTS,
    headlines=("memn2n/babi-1k", "memn2n/babi-1k-joint", "memn2n/babi-10k", "entnet/babi-10k"),
    sections=report.sections,
    readme_tables={"babi": report.babi_table, "gradients": report.gradients_table},
    datasets=(Dataset("babi", babi_download.BABI_ARCHIVE["source"], babi_download.download),),
    errors=(BabiFormatError,),
)
