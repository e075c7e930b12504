"""The bAbI reader: hand-written stories, encoding, validation split, malformed lines, the real files,
and the download (from a local HTTP server)."""
import hashlib
import http.server
import io
import json
import tarfile
import threading
from importlib import resources
from pathlib import Path

import pytest

from milestones.data import DownloadError, download
from milestones.memory import babi

STORIES = """\
1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Daniel went back to the hallway.
5 Sandra moved to the garden.
6 Where is Daniel?\thallway\t4
1 The office is east of the hallway.
2 The kitchen is north of the office.
3 How do you go from the kitchen to the hallway?\ts,w\t2 1
1 Mary got the football there.
2 Mary took the apple there.
3 What is Mary carrying?\tfootball,apple\t1 2
"""


def test_questions_carry_their_story_answer_and_support():
    samples = babi.parse(STORIES.splitlines(), "stories.txt", task=7)
    assert len(samples) == 4
    first, second, path, lists = samples
    assert first.story == (("mary", "moved", "to", "the", "bathroom"), ("john", "went", "to", "the", "hallway"))
    assert first.question == ("where", "is", "mary") and first.answer == ("bathroom",) and first.supporting == (1,)
    # the earlier question is not a statement of the story
    assert second.ids == (1, 2, 4, 5) and len(second.story) == 4 and second.supporting == (4,)
    # a new story starts at ID 1
    assert path.ids == (1, 2) and path.answer == ("s", "w") and path.answer_word == "s,w"
    assert path.supporting == (2, 1)
    assert lists.answer == ("football", "apple") and lists.answer_word == "football,apple"
    assert all(s.task == 7 for s in samples)


def test_encoding_keeps_the_most_recent_statements_and_orders_them():
    samples = babi.parse(STORIES.splitlines())
    vocab = babi.Vocab.of(samples)
    assert vocab.words[0] == babi.NIL and "s,w" in vocab.index and "football,apple" in vocab.index
    L, Lq = babi.shape_of(samples, memory_size=2)
    # the second question's story has 4 statements: with 2 slots only the last two are kept
    recent = babi.encode(samples, vocab, 2, L, Lq, recent_first=True)
    ordered = babi.encode(samples, vocab, 2, L, Lq, recent_first=False)
    words = lambda ids: [vocab.words[i] for i in ids.tolist() if i]  # noqa: E731
    assert recent.count.tolist() == [2, 2, 2, 2]
    assert words(recent.story[1, 0]) == ["sandra", "moved", "to", "the", "garden"]  # slot 0: last statement
    assert words(recent.story[1, 1]) == ["daniel", "went", "back", "to", "the", "hallway"]
    assert words(ordered.story[1, 0]) == ["daniel", "went", "back", "to", "the", "hallway"]
    assert babi.supporting_slots(samples[1], 2) == [1] and babi.supporting_slots(samples[1], 2, False) == [0]
    assert babi.sentence_text(samples[1], 0, 2) == "sandra moved to the garden"
    assert vocab.words[int(recent.answer[2])] == "s,w"
    assert words(recent.question[2]) == ["how", "do", "you", "go", "from", "the", "kitchen", "to", "the", "hallway"]
    # padding is the nil word
    assert int(recent.story[0, 1, 5:].abs().sum()) == 0
    # a statement longer than the tensor is refused, not cut
    with pytest.raises(ValueError, match="does not fit sentence_len"):
        babi.encode(samples, vocab, 2, 3, Lq)


def test_validation_is_the_end_of_the_training_file():
    samples = babi.parse(STORIES.splitlines())
    train, valid = babi.split_valid(samples, 0.25)
    assert train == samples[:3] and valid == samples[3:]
    with pytest.raises(ValueError, match="validation fraction"):
        babi.split_valid(samples, 1.0)


@pytest.mark.parametrize("text, expected", [
    ("Mary moved to the bathroom.", "line 1: expected 'ID text'"),
    ("1 Mary moved.\n3 John went.", "line 2: ID 3 follows ID 1; expected 2, or 1 to start a new story"),
    ("1 Mary moved.\n2 Where is Mary?\tbathroom", "line 2: a question needs 3 tab-separated fields"),
    ("1 Mary moved.\n2 Where is Mary?\tbathroom\t7", "line 2: supporting IDs '7' must name statements"),
    ("1 Mary moved.\n2 Where is Mary?\tbathroom\tone", "line 2: supporting IDs must be integers"),
    ("1 Mary moved.\n2 Where is Mary?\t\t1", "line 2: expected a question and an answer"),
    ("1 ...", "line 1: a statement without words"),
])
def test_malformed_lines_are_refused_with_file_and_line(text, expected):
    with pytest.raises(babi.BabiFormatError, match="bad.txt, " + expected.replace("?", r"\?")):
        babi.parse(text.splitlines(), "bad.txt")


def test_a_file_that_is_not_text(tmp_path):
    path = tmp_path / "qa1_x_train.txt"
    path.write_bytes(b"1 Mary \xff\xfe moved.\n")
    with pytest.raises(babi.BabiFormatError, match="not UTF-8"):
        babi.read(path)


def test_the_official_files(shared_data):
    root = shared_data("babi")
    for task in babi.TASKS:
        train, test = babi.load_task(task, "1k", root.parent)
        assert len(train) == len(test) == 1000, task
    train, _ = babi.load_task(19, "1k", root.parent)
    assert all(len(s.answer) == 2 for s in train)  # paths of two steps, e.g. "n,w"
    train, _ = babi.load_task(1, "10k", root.parent)
    assert len(train) == 10_000
    with pytest.raises(babi.DataMissingError, match="no train file"):
        babi.load_task(3, "10k", root.parent)
    with pytest.raises(ValueError, match="expected 1-20"):
        babi.task_file(21, "train", "1k", root.parent)


# ---- download ------------------------------------------------------------------------------------

def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"tasks_1-20_v1-2/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def serve():
    """serve(bytes) → URL of a local HTTP server answering every GET with those bytes."""
    servers = []

    def start(payload: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/tasks_1-20_v1-2.tar.gz"

    yield start
    for server in servers:
        server.shutdown()


def test_download_checks_every_file_and_keeps_nothing_on_failure(shared_data, serve, tmp_path):
    root = shared_data("babi")
    known = json.loads(resources.files("milestones.memory").joinpath("babi_md5.json").read_text())
    name = "en/qa1_single-supporting-fact_train.txt"
    good = (root / name).read_bytes()
    assert hashlib.md5(good).hexdigest() == known[name]
    test_file = "en/qa1_single-supporting-fact_test.txt"
    files = {name: good, test_file: (root / test_file).read_bytes(), "hn/qa1_x_train.txt": b"ignored"}

    folder = download("babi", tmp_path / "data", base_url=serve(_archive(files)), log=lambda *a: None)
    assert (folder / name).read_bytes() == good and (folder / test_file).exists()
    assert not (folder / "hn").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["en"]  # no temporary files left

    damaged = tmp_path / "damaged"
    archive = _archive(files)
    with pytest.raises(DownloadError, match="damaged"):
        download("babi", damaged, base_url=serve(archive[: len(archive) // 2]), log=lambda *a: None)
    altered = dict(files) | {name: good.replace(b"Mary", b"Mari", 1)}
    with pytest.raises(DownloadError, match=f"{name}: MD5 .* expected {known[name]}; nothing was kept"):
        download("babi", damaged, base_url=serve(_archive(altered)), log=lambda *a: None)
    assert [p for p in (damaged / "babi").rglob("*")] == []


def test_the_induction_shortcuts_are_counted_against_a_handmade_story():
    """scripts/babi_induction_answers.py: on a parsed task 16 story the last colour named is gray,
    the most often named white, the truth white; an answer of gray agrees with the first only."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "babi_induction_answers", Path(__file__).parents[1] / "scripts" / "babi_induction_answers.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    [sample] = babi.parse(["1 Lily is a swan.", "2 Lily is white.", "3 Brian is white.", "4 Julius is gray.",
                           "5 Greg is a swan.", "6 What color is Greg?\twhite\t5 1 2"], task=16)
    assert script.shortcuts(sample) == {"last colour named": "gray", "colour named most often": "white"}
    assert script.tally([sample, sample], ["gray", "white"]) == {
        "answer right": 50.0, "answer is a colour the story names": 100.0,
        "answer = last colour named": 50.0, "last colour named is right": 0.0,
        "answer = colour named most often": 50.0, "colour named most often is right": 100.0}
