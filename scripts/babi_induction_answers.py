"""bAbI task 16 (basic induction): which rule does a trained network's answer follow?

    python scripts/babi_induction_answers.py RUN_DIR [--data-dir DIR]

RUN_DIR is a finished run of a bAbI experiment that trained task 16 (memn2n/… or entnet/…). A story
names animals' kinds and colours ("Lily is a swan.", "Lily is white.") and asks the colour of one
whose colour is not given ("Greg is a swan. What color is Greg?"): the answer is the colour of
another animal of the same kind. For each test question this prints how often the network's answer
is right, is some colour the story names, and equals what two shortcuts would say: the last colour
named and the colour named most often (ties: the first to reach the count). A network that has not
learned the kind-to-colour link answers with a story's colour but no better than the shortcuts.
"""
from __future__ import annotations

import argparse
import collections
import os
from collections.abc import Sequence

import torch

from milestones import config as cfg_mod
from milestones.cli import _get
from milestones.families.memory.experiments import load_unit
from milestones.memory.babi import Sample
from milestones.runs import Run


def shortcuts(sample: Sample) -> dict[str, str]:
    """The colours named in the story (in order) reduced by each shortcut rule."""
    colours = [s[-1] for s in sample.story if len(s) == 3 and s[1] == "is"]  # "X is white" (not "X is a swan")
    if not colours:
        raise ValueError(f"no 'X is COLOUR' statement in {sample.story}: not a task 16 story")
    return {"last colour named": colours[-1],
            "colour named most often": collections.Counter(colours).most_common(1)[0][0]}


def tally(samples: Sequence[Sample], answers: Sequence[str]) -> dict[str, float]:
    """Percent of the questions whose answer is right, is a colour of the story, or agrees with each
    shortcut; and how often each shortcut itself is right."""
    counts: collections.Counter[str] = collections.Counter()
    for sample, answer in zip(samples, answers, strict=True):
        named = {s[-1] for s in sample.story if len(s) == 3 and s[1] == "is"}
        counts["answer right"] += answer == sample.answer_word
        counts["answer is a colour the story names"] += answer in named
        for rule, colour in shortcuts(sample).items():
            counts[f"answer = {rule}"] += answer == colour
            counts[f"{rule} is right"] += colour == sample.answer_word
    return {k: 100 * v / len(samples) for k, v in counts.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--data-dir", help="folder holding babi/ (default: MILESTONES_DATA)")
    args = p.parse_args()
    name, saved = Run.read_config(args.run_dir)
    exp = _get(name)
    config = cfg_mod.from_dict(type(exp.config), saved)
    if args.data_dir:
        os.environ["MILESTONES_DATA"] = args.data_dir
    ens, data, _, record = load_unit(config, Run(args.run_dir, exp, config, progress=False), 16)
    model, x = ens.member(record["chosen"]).eval(), data.test[16]
    with torch.no_grad():
        predicted = model(x.story, x.question, x.count).argmax(-1)
    answers = [data.vocab.words[int(i)] for i in predicted]
    print(f"{name}, task 16, {len(answers)} test questions ({args.run_dir})")
    for key, value in tally(data.samples[16], answers).items():
        print(f"  {key:40s} {value:5.1f} %")


if __name__ == "__main__":
    main()
