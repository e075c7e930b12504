"""SGF FF[4] (Smart Game Format, https://www.red-bean.com/sgf/) for Go: read a collection of game trees,
pull out a game's main line, write games back.

The grammar, as the specification gives it (EBNF):

    Collection = GameTree { GameTree }
    GameTree   = "(" Sequence { GameTree } ")"         the sub-trees are variations
    Sequence   = Node { Node }
    Node       = ";" { Property }
    Property   = PropIdent PropValue { PropValue }      e.g. AB[dd][pp], B[cd], C[a comment]
    PropIdent  = UcLetter { UcLetter }
    PropValue  = "[" CValueType "]"                     "\\" escapes the next character

White space between the tokens is ignored. A Go point is two letters, column then row, "a" at the top
left ("aa" … "ss" on 19×19); "cc:ee" in a list of points (AB, AW, AE) is the rectangle between two
corners (FF[4] compressed lists); an empty value, or "tt" on boards up to 19×19, is a pass. FF[3] and
older files read the same way where they agree with FF[4].

`parse` returns the trees; `read_game` the first tree's main line (the first variation at every
branch) as a `GameRecord` of board size, komi, setup stones, moves and result. Anything malformed is
refused with `SgfError`, which names the line, the column and what was expected there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from milestones.games.go import Go, GoPosition


class SgfError(ValueError):
    """A malformed SGF file or a game it cannot hold; the message names where and why."""


@dataclass
class SgfNode:
    properties: dict[str, list[str]] = field(default_factory=dict)
    line: int = 0  # where the node starts, for error messages


@dataclass
class SgfTree:
    nodes: list[SgfNode]
    variations: list[SgfTree]

    def main_line(self) -> list[SgfNode]:
        """The nodes along the first variation at every branch."""
        nodes, tree = list(self.nodes), self
        while tree.variations:
            tree = tree.variations[0]
            nodes.extend(tree.nodes)
        return nodes


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def where(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        line = self.text.count("\n", 0, i) + 1
        column = i - (self.text.rfind("\n", 0, i) + 1) + 1
        return f"line {line}, column {column}"

    def fail(self, expected: str) -> SgfError:
        found = repr(self.text[self.i]) if self.i < len(self.text) else "the end of the file"
        return SgfError(f"SGF {self.where()}: expected {expected}, found {found}")

    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.i] if self.i < len(self.text) else ""

    def collection(self) -> list[SgfTree]:
        trees = []
        while self.peek() == "(":
            trees.append(self.tree())
        if not trees:
            raise self.fail("'(' to start a game tree")
        if self.peek():
            raise self.fail("'(' or the end of the file after a game tree")
        return trees

    def tree(self) -> SgfTree:
        """One game tree and its variations, read with a stack of open trees (no recursion: a file
        may nest variations thousands deep)."""
        self.i += 1  # "("
        root = SgfTree(self.nodes(), [])
        open_trees = [root]
        while open_trees:
            ch = self.peek()
            if ch == "(":
                self.i += 1
                variation = SgfTree(self.nodes(), [])
                open_trees[-1].variations.append(variation)
                open_trees.append(variation)
            elif ch == ")":
                self.i += 1
                open_trees.pop()
            else:
                raise self.fail("')' to close the game tree, '(' for a variation or ';' for a node")
        return root

    def nodes(self) -> list[SgfNode]:
        nodes = []
        while self.peek() == ";":
            nodes.append(self.node())
        if not nodes:
            raise self.fail("';' to start the tree's first node")
        return nodes

    def node(self) -> SgfNode:
        node = SgfNode(line=self.text.count("\n", 0, self.i) + 1)
        self.i += 1  # ";"
        while self.peek().isalpha():
            start = self.i
            while self.i < len(self.text) and self.text[self.i].isalpha():
                self.i += 1
            ident = self.text[start:self.i]
            if not ident.isupper():
                # FF[3] allowed lower-case letters inside an identifier ("AddBlack"); FF[4] ignores them
                ident = "".join(ch for ch in ident if ch.isupper())
                if not ident:
                    self.i = start
                    raise self.fail("a property identifier in upper-case letters")
            if ident in node.properties:
                self.i = start
                raise SgfError(f"SGF {self.where()}: property {ident} appears twice in one node")
            values = []
            while self.peek() == "[":
                values.append(self.value())
            if not values:
                raise self.fail(f"'[' to start a value of property {ident}")
            node.properties[ident] = values
        if self.peek() not in (";", "(", ")"):
            raise self.fail("a property identifier, ';', '(' or ')'")
        return node

    def value(self) -> str:
        start = self.i
        self.i += 1  # "["
        out = []
        text = self.text
        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\":
                self.i += 1
                if self.i < len(text):
                    if text[self.i] == "\n":  # a soft line break
                        self.i += 1
                        continue
                    if text[self.i] == "\r":
                        self.i += 2 if text[self.i:self.i + 2] == "\r\n" else 1
                        continue
                    out.append(text[self.i])
                    self.i += 1
                continue
            if ch == "]":
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        raise SgfError(f"SGF {self.where(start)}: the value opened here has no closing ']'")


def parse(text: str) -> list[SgfTree]:
    """Every game tree of an SGF collection; `SgfError` names the line and column of anything malformed."""
    if not isinstance(text, str):
        raise SgfError(f"SGF text must be a str, got {type(text).__name__}")
    return _Reader(text).collection()


# --------------------------------------------------------------------------------------- Go records
@dataclass
class GameRecord:
    """A Go game: board size, komi, setup stones (handicap), the moves in order and the result."""

    size: int = 9
    komi: float = 7.0
    black_setup: list[int] = field(default_factory=list)  # points r·N + c, row 0 at the top
    white_setup: list[int] = field(default_factory=list)
    first_to_play: int = 0  # 0 Black, 1 White (White after handicap stones)
    moves: list[int] = field(default_factory=list)  # points and N² for a pass, alternating colours
    result: str = ""  # "B+3.5", "W+R", "0", "" if unknown
    black: str = ""  # player names
    white: str = ""
    rules: str = "Chinese"
    extra: dict[str, str] = field(default_factory=dict)  # other root properties, kept for writing

    def game(self, max_moves: int | None = None) -> Go:
        return Go(self.size, self.komi, max_moves=max_moves)

    def positions(self, max_moves: int | None = None) -> list[GoPosition]:
        """The position before each move and after the last (len(moves) + 1), replayed by our rules;
        `SgfError` names the first illegal move."""
        go = self.game(max_moves=max(max_moves or 0, len(self.moves) + 1))
        try:
            position = go.setup(self.black_setup, self.white_setup, self.first_to_play)
        except ValueError as error:
            raise SgfError(f"the setup stones: {error}") from None
        out = [position]
        for k, move in enumerate(self.moves):
            reason = position.why_illegal(move)
            if reason is not None:
                raise SgfError(f"move {k + 1} ({'BW'[position.to_play]} {go.geometry.gtp(move)}): {reason}")
            position = position.play(move)
            out.append(position)
        return out


def _point(value: str, size: int, where: str) -> int | None:
    """The move of an SGF point ("cd"), None for a pass ("" or "tt" up to 19×19)."""
    if value == "" or (value == "tt" and size <= 19):
        return None
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(value) != 2 or value[0] not in letters[:size] or value[1] not in letters[:size]:
        raise SgfError(f"{where}: {value!r} is not a point of the {size}×{size} board "
                       f"(two letters a-{letters[size - 1]}, column then row)")
    column, row = letters.index(value[0]), letters.index(value[1])
    return row * size + column


def _points(values: list[str], size: int, where: str) -> list[int]:
    out = []
    for value in values:
        if ":" in value:  # a rectangle, FF[4]
            a, b = value.split(":", 1)
            pa, pb = _point(a, size, where), _point(b, size, where)
            if pa is None or pb is None:
                raise SgfError(f"{where}: {value!r} is not a rectangle of two points")
            (r0, c0), (r1, c1) = divmod(pa, size), divmod(pb, size)
            out += [r * size + c for r in range(min(r0, r1), max(r0, r1) + 1)
                    for c in range(min(c0, c1), max(c0, c1) + 1)]
        else:
            p = _point(value, size, where)
            if p is None:
                raise SgfError(f"{where}: a setup list holds points, not a pass")
            out.append(p)
    return out


def read_game(text: str) -> GameRecord:
    """The first game tree's main line as a Go record; setup (AB/AW) only at the root, as in game records."""
    tree = parse(text)[0]
    nodes = tree.main_line()
    root = nodes[0].properties
    single = {k: v[0] for k, v in root.items() if len(v) == 1}
    if single.get("GM", "1") != "1":
        raise SgfError(f"SGF root node: GM[{single['GM']}] is not Go (GM[1])")
    size_text = single.get("SZ", "19")
    if not size_text.isdigit() or not 2 <= int(size_text) <= 25:
        raise SgfError(f"SGF root node: SZ[{size_text}] is not a square board size 2-25 (rectangles are not Go here)")
    size = int(size_text)
    try:
        komi = float(single.get("KM", "0") or 0)
    except ValueError:
        raise SgfError(f"SGF root node: KM[{single['KM']}] is not a number") from None
    record = GameRecord(size=size, komi=komi, result=single.get("RE", ""), black=single.get("PB", ""),
                        white=single.get("PW", ""), rules=single.get("RU", ""))
    record.extra = {k: v for k, v in single.items()
                    if k not in ("GM", "SZ", "KM", "RE", "PB", "PW", "RU", "FF", "CA", "AP", "B", "W", "AB", "AW",
                                 "PL", "HA")}
    if "HA" in single:
        record.extra["HA"] = single["HA"]
    pass_move = size * size
    colour: int | None = None
    for k, node in enumerate(nodes):
        where = f"SGF node {k + 1} (line {node.line})"
        props = node.properties
        if k == 0:
            record.black_setup = _points(props.get("AB", []), size, where)
            record.white_setup = _points(props.get("AW", []), size, where)
            if "PL" in props:
                if props["PL"][0] not in ("B", "W"):
                    raise SgfError(f"{where}: PL[{props['PL'][0]}] is not B or W")
                record.first_to_play = "BW".index(props["PL"][0])
            elif record.black_setup and not record.white_setup:
                record.first_to_play = 1  # handicap stones: White moves first
        elif "AB" in props or "AW" in props or "AE" in props:
            raise SgfError(f"{where}: setup stones after the first move (AB/AW/AE) are not a game record")
        for c, ident in ((0, "B"), (1, "W")):
            if ident not in props:
                continue
            if "BW"[1 - c] in props:
                raise SgfError(f"{where}: one node holds both a B and a W move")
            expected = record.first_to_play if colour is None else 1 - colour
            if c != expected:
                raise SgfError(f"{where}: {ident} moves, but it is {'BW'[expected]}'s turn "
                               f"(this reader replays alternating games)")
            colour = c
            point = _point(props[ident][0], size, where)
            record.moves.append(pass_move if point is None else point)
    return record


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def write_game(record: GameRecord, application: str = "milestones") -> str:
    """An FF[4] SGF file of the record, one node per move; passes written B[] / W[]."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    n = record.size

    def point(m: int) -> str:
        if m == n * n:
            return ""
        r, c = divmod(m, n)
        return letters[c] + letters[r]

    root = [f"FF[4]GM[1]CA[UTF-8]AP[{_escape(application)}]SZ[{n}]KM[{record.komi:g}]"]
    if record.rules:
        root.append(f"RU[{_escape(record.rules)}]")
    for ident, value in (("PB", record.black), ("PW", record.white), ("RE", record.result)):
        if value:
            root.append(f"{ident}[{_escape(value)}]")
    for ident, value in record.extra.items():
        root.append(f"{ident}[{_escape(value)}]")
    if record.black_setup:
        root.append("AB" + "".join(f"[{point(m)}]" for m in record.black_setup))
    if record.white_setup:
        root.append("AW" + "".join(f"[{point(m)}]" for m in record.white_setup))
    expected_first = 1 if record.black_setup and not record.white_setup else 0
    if record.first_to_play != expected_first:
        root.append(f"PL[{'BW'[record.first_to_play]}]")
    lines = ["(;" + "".join(root)]
    colour = record.first_to_play
    for k in range(0, len(record.moves), 10):
        lines.append("".join(f";{'BW'[(colour + j) % 2]}[{point(m)}]"
                             for j, m in enumerate(record.moves[k:k + 10], start=k)))
    return "\n".join(lines) + ")\n"
