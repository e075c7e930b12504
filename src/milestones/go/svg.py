"""A Go position as an SVG picture: the grid with its star points, GTP coordinates around it, the stones,
and a mark on the last move (the report draws a won game's final position with it).

Geometry: a cell is `CELL` pixels; point (r, c) (row 0 at the top) sits at
(MARGIN + c·CELL, MARGIN + r·CELL); a stone's radius is 0.47 of a cell.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

from milestones.games.go import BLACK, COLUMNS, WHITE, GoPosition

CELL, MARGIN = 32, 36


def star_points(size: int) -> list[tuple[int, int]]:
    """The hoshi: 3-3 points on 9×9 and smaller-but-≥ 7, 4-4 on 13×13 and up, and the centre when odd."""
    if size < 7:
        return [(size // 2, size // 2)] if size % 2 else []
    edge = 2 if size < 13 else 3
    lines = [edge, size - 1 - edge] + ([size // 2] if size % 2 and size >= 9 else [])
    if size < 13:
        points = [(r, c) for r in (edge, size - 1 - edge) for c in (edge, size - 1 - edge)]
        return points + ([(size // 2, size // 2)] if size % 2 else [])
    return [(r, c) for r in lines for c in lines]


def position_svg(position: GoPosition, title: str = "") -> str:
    """The SVG text of `position` (see the module docstring)."""
    n = position.game.size
    width = 2 * MARGIN + (n - 1) * CELL
    height = width + (24 if title else 0)
    top = 24 if title else 0

    def xy(r: int, c: int) -> tuple[int, int]:
        return MARGIN + c * CELL, top + MARGIN + r * CELL

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#dcb35c"/>']
    if title:
        out.append(f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>')
    for k in range(n):
        x0, y0 = xy(k, 0)
        x1, y1 = xy(k, n - 1)
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="black"/>')
        x0, y0 = xy(0, k)
        x1, y1 = xy(n - 1, k)
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="black"/>')
        lx, ly = xy(n - 1, k)
        out.append(f'<text x="{lx}" y="{ly + 24}" text-anchor="middle">{COLUMNS[k]}</text>')
        nx, ny = xy(k, 0)
        out.append(f'<text x="{nx - 22}" y="{ny + 4}" text-anchor="middle">{n - k}</text>')
    for r, c in star_points(n):
        x, y = xy(r, c)
        out.append(f'<circle cx="{x}" cy="{y}" r="3" fill="black"/>')
    radius = 0.47 * CELL
    for move in range(n * n):
        colour = position.stone(move)
        if colour not in (BLACK, WHITE):
            continue
        x, y = xy(*divmod(move, n))
        fill, line = ("black", "black") if colour == BLACK else ("white", "black")
        out.append(f'<circle class="stone" cx="{x}" cy="{y}" r="{radius:.1f}" fill="{fill}" stroke="{line}"/>')
    last = position.last_move
    if last is not None and last < n * n and position.stone(last):
        x, y = xy(*divmod(last, n))
        mark = "white" if position.stone(last) == BLACK else "black"
        out.append(f'<circle class="last" cx="{x}" cy="{y}" r="{radius / 2.5:.1f}" fill="none" stroke="{mark}" '
                   'stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
