"""The bAbI question-answering tasks (Weston et al. 2015, arXiv 1502.05698), format v1.2.

A task file is a run of stories. Each line is `ID text` (a statement) or `ID question<TAB>answer<TAB>
supporting IDs` (a question); IDs count up from 1 within a story and restart at 1 where a new story
begins. Every question becomes one `Sample`: the statements of its story before it (questions are not
statements), the question, the answer (several words for the lists of task 8 and the paths of task
19, written `n,w`) and the supporting statements' IDs.

For the models a sample set is encoded as index tensors (legend: N samples, M memory slots, L words
per sentence, Lq words per question):
    story (N, M, L)   word ids of the M most recent statements, 0 = the nil word (padding)
    question (N, Lq)  answer (N,) the answer's id (a list answer is one vocabulary entry "n,w")
    count (N,)        statements kept (≤ M); slots at and after `count` are padding
With `recent_first` (MemN2N, §4.1 of Sukhbaatar et al.) slot 0 holds the last statement before the
question, so that a slot's temporal vector encodes the distance from the question; otherwise slot 0
holds the oldest kept statement (EntNet reads the story in order).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from milestones.data import DataMissingError, dataset_path

TASKS = tuple(range(1, 21))
SIZES = {"1k": "en", "10k": "en-10k"}
NIL = "<nil>"
_WORD = re.compile(r"[a-z0-9']+")
_LINE = re.compile(r"(\d+) (.*)")


class BabiFormatError(ValueError):
    """A line of a bAbI file that does not follow the format; the message names file and line."""


@dataclasses.dataclass(frozen=True)
class Sample:
    story: tuple[tuple[str, ...], ...]  # the statements before the question, oldest first, tokenized
    ids: tuple[int, ...]  # their line IDs in the file
    question: tuple[str, ...]
    answer: tuple[str, ...]  # one word, or several for list answers (tasks 8 and 19)
    supporting: tuple[int, ...]  # IDs of the supporting statements
    task: int = 0

    @property
    def answer_word(self) -> str:
        """The vocabulary entry a model predicts: the answer's words joined by commas."""
        return ",".join(self.answer)


def tokenize(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def parse(lines: Iterable[str], source: str = "<text>", task: int = 0) -> list[Sample]:
    """The questions of a bAbI file's lines as samples; a malformed line raises BabiFormatError."""
    samples: list[Sample] = []
    story: list[tuple[int, tuple[str, ...]]] = []  # (ID, words) of the current story's statements
    last_id = 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue

        def fail(what: str) -> BabiFormatError:
            return BabiFormatError(f"{source}, line {number}: {what}; the line is {line[:80]!r}")

        m = _LINE.fullmatch(line)
        if not m:
            raise fail("expected 'ID text' or 'ID question<TAB>answer<TAB>supporting IDs' "
                       "with a positive integer ID")
        line_id, text = int(m.group(1)), m.group(2)
        if line_id == 1:
            story, last_id = [], 0
        elif line_id != last_id + 1:
            raise fail(f"ID {line_id} follows ID {last_id}; expected {last_id + 1}, or 1 to start a new story")
        last_id = line_id
        if "\t" not in text:
            words = tokenize(text)
            if not words:
                raise fail("a statement without words")
            story.append((line_id, words))
            continue
        fields = text.split("\t")
        if len(fields) != 3:
            raise fail(f"a question needs 3 tab-separated fields (question, answer, supporting IDs), "
                       f"found {len(fields)}")
        question, answer = tokenize(fields[0]), tuple(w for w in (tokenize(a) for a in fields[1].split(",")) if w)
        if not question or not answer or any(len(a) != 1 for a in answer):
            raise fail("expected a question and an answer of one word, or words separated by commas")
        try:
            supporting = tuple(int(s) for s in fields[2].split())
        except ValueError:
            raise fail(f"supporting IDs must be integers, got {fields[2]!r}") from None
        known = {i for i, _ in story}
        if not supporting or any(s not in known for s in supporting):
            raise fail(f"supporting IDs {fields[2]!r} must name statements of this story before the "
                       f"question (known: {sorted(known) or 'none'})")
        samples.append(Sample(tuple(w for _, w in story), tuple(i for i, _ in story), question,
                              tuple(a[0] for a in answer), supporting, task))
    return samples


def read(path: str | Path, task: int = 0) -> list[Sample]:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f, str(path), task)
    except UnicodeDecodeError as e:
        raise BabiFormatError(f"{path}: not UTF-8 text ({e})") from None


def task_file(task: int, split: str, size: str = "1k", data_dir: str | Path | None = None) -> Path:
    if task not in TASKS:
        raise ValueError(f"bAbI task {task} does not exist; expected 1-20")
    if size not in SIZES:
        raise ValueError(f"bAbI size {size!r}; expected one of {', '.join(SIZES)}")
    folder = dataset_path("babi", data_dir) / SIZES[size]
    found = sorted(folder.glob(f"qa{task}_*_{split}.txt"))
    if not found:
        raise DataMissingError(f"bAbI task {task} ({size}) has no {split} file in {folder} "
                               f"(expected qa{task}_<name>_{split}.txt); `milestones data download babi` fetches them")
    return found[0]


def load_task(task: int, size: str = "1k", data_dir: str | Path | None = None) -> tuple[list[Sample], list[Sample]]:
    """(train, test) samples of one task."""
    return tuple(read(task_file(task, split, size, data_dir), task) for split in ("train", "test"))  # type: ignore[return-value]


def split_valid(samples: Sequence[Sample], fraction: float = 0.1) -> tuple[list[Sample], list[Sample]]:
    """(train, validation): the last `fraction` of a training file is held out, as the official
    MemN2N code does (the file's order, no shuffling)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction {fraction}; expected 0 <= fraction < 1")
    cut = len(samples) - int(round(len(samples) * fraction))
    return list(samples[:cut]), list(samples[cut:])


class Vocab:
    """Words to ids; id 0 is the nil word used for padding. List answers are entries of their own."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = [NIL] + sorted(set(words) - {NIL})
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def of(cls, *sample_sets: Iterable[Sample]) -> "Vocab":
        words: set[str] = set()
        for samples in sample_sets:
            for s in samples:
                words.update(w for sentence in s.story for w in sentence)
                words.update(s.question)
                words.add(s.answer_word)
        return cls(words)

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, words: Sequence[str]) -> list[int]:
        try:
            return [self.index[w] for w in words]
        except KeyError as e:
            raise KeyError(f"word {e.args[0]!r} is not in the vocabulary of {len(self)} words") from None


@dataclasses.dataclass
class Encoded:
    story: Tensor  # (N, M, L) long
    question: Tensor  # (N, Lq) long
    answer: Tensor  # (N,) long
    count: Tensor  # (N,) long: statements kept
    task: Tensor  # (N,) long

    def __len__(self) -> int:
        return len(self.answer)

    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    def __getitem__(self, index) -> "Encoded":
        return Encoded(*(t[index] for t in self.tensors()))

    def to(self, device) -> "Encoded":
        return Encoded(*(t.to(device) for t in self.tensors()))

    @staticmethod
    def cat(parts: Sequence["Encoded"]) -> "Encoded":
        return Encoded(*(torch.cat(ts) for ts in zip(*(p.tensors() for p in parts))))


def shape_of(*sample_sets: Iterable[Sample], memory_size: int) -> tuple[int, int]:
    """(L, Lq): the longest statement and question over the given sets, so that train and test share them."""
    L = Lq = 1
    for samples in sample_sets:
        for s in samples:
            Lq = max(Lq, len(s.question))
            L = max([L, *(len(x) for x in s.story[-memory_size:])])
    return L, Lq


def encode(samples: Sequence[Sample], vocab: Vocab, memory_size: int, sentence_len: int,
           question_len: int, recent_first: bool = True) -> Encoded:
    """Index tensors of `samples`, keeping the `memory_size` most recent statements of each story."""
    if memory_size < 1:
        raise ValueError(f"memory_size {memory_size}; expected at least 1")
    N = len(samples)
    story = torch.zeros(N, memory_size, sentence_len, dtype=torch.long)
    question = torch.zeros(N, question_len, dtype=torch.long)
    answer, count, task = (torch.zeros(N, dtype=torch.long) for _ in range(3))
    for n, s in enumerate(samples):
        kept = s.story[-memory_size:]
        order = reversed(kept) if recent_first else kept
        for i, sentence in enumerate(order):
            if len(sentence) > sentence_len:
                raise ValueError(f"a statement of {len(sentence)} words does not fit sentence_len {sentence_len}")
            story[n, i, :len(sentence)] = torch.tensor(vocab.ids(sentence))
        if len(s.question) > question_len:
            raise ValueError(f"a question of {len(s.question)} words does not fit question_len {question_len}")
        question[n, :len(s.question)] = torch.tensor(vocab.ids(s.question))
        answer[n] = vocab.index[s.answer_word] if s.answer_word in vocab.index else 0
        count[n], task[n] = len(kept), s.task
    return Encoded(story, question, answer, count, task)


def supporting_slots(sample: Sample, memory_size: int, recent_first: bool = True) -> list[int]:
    """The memory slots holding the sample's supporting statements (those still in memory)."""
    kept = sample.ids[-memory_size:]
    slots = [kept.index(i) for i in sample.supporting if i in kept]
    return [len(kept) - 1 - k for k in slots] if recent_first else slots


def sentence_text(sample: Sample, slot: int, memory_size: int, recent_first: bool = True) -> str:
    kept = sample.story[-memory_size:]
    return " ".join(kept[len(kept) - 1 - slot] if recent_first else kept[slot])
