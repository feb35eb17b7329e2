"""Tables and trees printed the way util-linux's libsmartcols prints them.

Columns are separated by one space and padded to their widest cell; numeric
columns are right-aligned (header too); the last column is not padded.  Tree
columns draw ``├─``/``└─`` before a child and ``│ `` below a parent that has
more children to come, as lsns(8) and findmnt(8) do.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

BRANCH, LAST, VERT, SPACE = "├─", "└─", "│ ", "  "
# Cells come from processes we do not trust (a container chooses its command
# line): control characters are shown as \xNN, as util-linux's mbs_safe_encode
# does, so none can move the cursor, recolour the terminal or forge a row.
SAFE = {c: f"\\x{c:02x}" for c in [*range(32), 127, *range(0x80, 0xA0)]}


def safe(text: str) -> str:
    return text.translate(SAFE)


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int] = (),
           noheadings: bool = False, min_widths: Sequence[int] = ()) -> str:
    """The table as text (empty when there is nothing, not even a header).

    ``min_widths`` are libsmartcols' width hints (lsns: NS 10, TYPE 5, PID 5)."""
    right = set(right)
    allrows = ([list(headers)] if not noheadings else []) + [[safe(c) for c in r] for r in rows]
    if not allrows:
        return ""
    # the header counts for the widths even when not printed (libsmartcols does so)
    hints = list(min_widths) + [0] * (len(headers) - len(min_widths))
    widths = [max([hints[i]] + [len(r[i]) for r in [list(headers)] + allrows]) for i in range(len(headers))]
    last = len(headers) - 1
    lines = []
    for r in allrows:
        cells = []
        for i, cell in enumerate(r):
            if i in right:
                cells.append(cell.rjust(widths[i]))
            elif i == last:
                cells.append(cell)
            else:
                cells.append(cell.ljust(widths[i]))
        lines.append(" ".join(cells).rstrip() if last not in right else " ".join(cells))
    return "\n".join(lines) + "\n"


def walk_tree(roots: Sequence[object], children: Callable[[object], Sequence[object]]
              ) -> list[tuple[object, str]]:
    """Depth-first (node, prefix) pairs; ``prefix`` goes before the tree column's text."""
    out: list[tuple[object, str]] = []

    def visit(node: object, lead: str, mark: str) -> None:
        out.append((node, lead + mark))
        kids = children(node)
        below = lead + ((VERT if mark == BRANCH else SPACE) if mark else "")
        for i, kid in enumerate(kids):
            visit(kid, below, LAST if i == len(kids) - 1 else BRANCH)

    for root in roots:
        visit(root, "", "")
    return out
