"""Process trees from /proc (Linux): what the benchmarks sample CPU time and memory of, without psutil."""

from __future__ import annotations

from pathlib import Path


def process_table() -> dict[int, tuple[int, str, list[str]]]:
    """pid -> (parent pid, command name, the ``/proc/<pid>/stat`` fields after the name) of every process."""
    table: dict[int, tuple[int, str, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), stat[stat.index("(") + 1 : stat.rindex(")")], fields)
    return table


def descendants(root: int, table: dict[int, tuple[int, str, list[str]]] | None = None) -> set[int]:
    """Every process under ``root`` (not ``root`` itself)."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found
