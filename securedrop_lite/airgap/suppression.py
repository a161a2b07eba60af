"""Disclosure control for the trends tables: decide which counts must print as x.

The tables of all dimensions describe the same cases, so they share the per-period
totals and the grand total. They are protected jointly, as one linear system:

    variables    interior cells x[d, v, p], row totals R[d, v], period totals C[p], grand G
    constraints  sum_p x[d, v, p] = R[d, v]    sum_v x[d, v, p] = C[p]
                 sum_v R[d, v] = G             sum_p C[p] = G

A suppressed count is recomputable when the published counts pin it down through
these equations, or through them and the fact that no count is below 0 (see
`_exposed`). Narrower leaks are not modelled: the interval a suppressed count must lie
in can still be short, and a set of suppressed zeros can be shown to be all zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import gcd

# A sparse row of the constraint matrix, or of its reduced form: variable index -> coefficient.
SparseRow = dict[int, int]
# How costly a count is to suppress: (is a total, count, position); lowest goes first.
Cost = tuple[bool, int, int]


class SuppressionError(ValueError):
    """The table or k is not one the disclosure control can protect."""


@dataclass(frozen=True)
class Cell:
    """One printed count; a field left as None is summed over (a total)."""

    dimension: str | None = None
    value: str | None = None
    period: str | None = None

    @property
    def is_margin(self) -> bool:
        """Return True for totals, which readers rely on and so are suppressed last."""
        return self.value is None or self.period is None


class JointTable:
    """Counts per category value and period, for several dimensions of the same cases."""

    def __init__(
        self, periods: Sequence[str], counts: Mapping[str, Mapping[str, Sequence[int]]]
    ) -> None:
        self.periods = tuple(periods)
        self.counts = {
            dimension: {value: tuple(row) for value, row in rows.items()}
            for dimension, rows in counts.items()
        }
        self._check()
        self._by_cell = self._all_counts()

    def _check(self) -> None:
        if not self.periods or not self.counts:
            raise SuppressionError("a table needs at least one period and one dimension")
        period_totals = set()
        for dimension, rows in self.counts.items():
            if not rows:
                raise SuppressionError(f"{dimension}: no category values")
            for value, row in rows.items():
                if len(row) != len(self.periods) or any(n < 0 for n in row):
                    raise SuppressionError(f"{dimension}/{value}: one count >= 0 per period")
            period_totals.add(tuple(map(sum, zip(*rows.values(), strict=True))))
        if len(period_totals) != 1:
            # Each case has one value per dimension, so every dimension adds up alike.
            raise SuppressionError("the dimensions do not add up to the same period totals")

    def _all_counts(self) -> dict[Cell, int]:
        found: dict[Cell, int] = {}
        for dimension, rows in self.counts.items():
            for value, row in rows.items():
                for period, count in zip(self.periods, row, strict=True):
                    found[Cell(dimension, value, period)] = count
        for dimension, rows in self.counts.items():
            for value, row in rows.items():
                found[Cell(dimension, value)] = sum(row)
        first = next(iter(self.counts.values()))
        for index, period in enumerate(self.periods):
            found[Cell(period=period)] = sum(row[index] for row in first.values())
        found[Cell()] = sum(sum(row) for row in first.values())
        return found

    def cells(self) -> list[Cell]:
        """Return every count: interior cells, row totals, period totals, grand total."""
        return list(self._by_cell)

    def count(self, cell: Cell) -> int:
        """Return the count of one cell or total."""
        return self._by_cell[cell]

    def constraints(self) -> list[list[tuple[Cell, int]]]:
        """Return the equations, each as (cell, coefficient) pairs summing to zero."""
        equations: list[list[tuple[Cell, int]]] = []
        for dimension, rows in self.counts.items():
            for value in rows:
                parts = [(Cell(dimension, value, period), 1) for period in self.periods]
                equations.append(parts + [(Cell(dimension, value), -1)])
            for period in self.periods:
                parts = [(Cell(dimension, value, period), 1) for value in rows]
                equations.append(parts + [(Cell(period=period), -1)])
            equations.append([(Cell(dimension, value), 1) for value in rows] + [(Cell(), -1)])
        equations.append([(Cell(period=period), 1) for period in self.periods] + [(Cell(), -1)])
        return equations


def suppress(table: JointTable, k: int) -> frozenset[Cell]:
    """Return the cells to print as x: those below k and those that would give one away."""
    if k < 2:
        raise SuppressionError("k must be at least 2")
    cells = table.cells()
    index = {cell: position for position, cell in enumerate(cells)}
    rows = [{index[cell]: c for cell, c in equation} for equation in table.constraints()]
    counts = [table.count(cell) for cell in cells]
    # Interior and small cells are sacrificed first; the position breaks ties stably.
    cost: list[Cost] = [(cell.is_margin, counts[i], i) for i, cell in enumerate(cells)]
    suppressed = {i for i, count in enumerate(counts) if count < k}
    zeros = frozenset(i for i, count in enumerate(counts) if count == 0)
    # Terminates: each round suppresses one more count, and once all are suppressed
    # none is exposed: one more case could be added to any cell and its totals without
    # breaking an equation (for the reader who knows the zeros: a copy of a real case).
    while exposed := _exposed(rows, suppressed, zeros):
        first = min(exposed)
        suppressed.add(_complement(exposed[first], rows, suppressed, cost))
    return frozenset(cells[i] for i in suppressed)


def _exposed(
    rows: list[SparseRow], suppressed: set[int], zeros: frozenset[int]
) -> dict[int, SparseRow]:
    """Return the suppressed counts a reader could work out, each with how (see below)."""
    # Counts are never negative, which gives away more than the equations do. Say
    # harassment is 4 and 6 in two quarters (total 10 shown), bullying 6 and 5 and the
    # quarter totals 10 and 11 are shown, and all else is 0: harassment is at most 4,
    # then at most 6, and adds up to 10, so both are known. A reader who knows every
    # zero is stronger; if nothing is recomputable for that reader, each suppressed
    # count (at least 1) can move both ways along a solution that stays at or above 0.
    # What the plain equations give away, that reader gets too, so that check runs
    # first; the plain one then only adds the suppressed zeros.
    return _derivations(rows, suppressed - zeros) or _derivations(rows, suppressed)


def _complement(
    derivation: SparseRow, rows: list[SparseRow], suppressed: set[int], cost: list[Cost]
) -> int:
    """Choose the published count to suppress: the cheapest one the derivation uses."""
    # Not just any count sharing an equation with the exposed one: that choice misses
    # when the way in runs through other suppressed counts, and then piles up totals.
    used: dict[int, int] = {}
    for equation, multiplier in derivation.items():
        for variable, coefficient in rows[equation].items():
            if variable not in suppressed:
                used[variable] = used.get(variable, 0) + multiplier * coefficient
    # Never empty: a derivation using only suppressed counts would hold for every
    # solution, yet one more case can always be added to the exposed count; and one
    # using only known zeros would make the exposed count 0, which it is not.
    return min((v for v, total in used.items() if total), key=cost.__getitem__)


def recomputable(rows: Sequence[SparseRow], suppressed: set[int]) -> list[int]:
    """Return, sorted, the suppressed variables the other (published) ones pin down."""
    return sorted(_derivations(rows, suppressed))


def _derivations(rows: Sequence[SparseRow], suppressed: set[int]) -> dict[int, SparseRow]:
    """Return each recomputable variable with the equations (index: multiplier) giving it.

    With published values moved to the right-hand side, v is pinned down iff the unit
    vector e_v lies in the row space of the constraint matrix restricted to the
    suppressed columns. In a reduced echelon basis of that space (each pivot column
    non-zero in its own row only), the coefficient of row i in any combination equals
    the combination's entry at pivot i divided by row i's pivot. So e_v can only be a
    multiple of the row whose pivot is v: v is pinned down iff that row has no other
    entry. Any pivot order gives such a basis, so the sparse, integer one below will do.
    Each row also carries, under negative keys, the multipliers of the equations it
    was combined from, so a pinned variable comes with its derivation.
    """
    tagged = []
    for number, row in enumerate(rows):
        restricted = {v: c for v, c in row.items() if v in suppressed}
        if restricted:
            restricted[_origin(number)] = 1
            tagged.append(restricted)
    found = {}
    for pivot, row in _reduced_basis(tagged).items():
        if sum(1 for key in row if key >= 0) == 1:
            found[pivot] = {_origin(key): c for key, c in row.items() if key < 0}
    return found


def _origin(key: int) -> int:
    """Map an equation's number to its (negative) key in a tagged row, and back."""
    return -1 - key


def _reduced_basis(rows: Iterable[SparseRow]) -> dict[int, SparseRow]:
    """Return a reduced echelon basis of the rows' span, keyed by pivot column."""
    basis: dict[int, SparseRow] = {}
    for original in rows:
        row = dict(original)
        # Basis rows hold no other pivot column, so one pass over row's pivots clears all.
        for pivot in [v for v in original if v in basis]:
            _eliminate(row, basis[pivot], pivot)
        columns = [v for v in row if v >= 0]
        if not columns:
            continue
        # A unit pivot keeps the eliminations free of scaling; the lowest index, stable.
        units = [v for v in columns if abs(row[v]) == 1]
        pivot = min(units or columns)
        _normalize(row, pivot)
        for other in basis.values():
            if pivot in other:
                _eliminate(other, row, pivot)
        basis[pivot] = row
    return basis


def _eliminate(target: SparseRow, pivot_row: SparseRow, pivot: int) -> None:
    """Clear target's pivot column using pivot_row, in place, in exact integer arithmetic."""
    scale, factor = pivot_row[pivot], target[pivot]
    if scale != 1:
        for v in target:
            target[v] *= scale
    for v, c in pivot_row.items():
        combined = target.get(v, 0) - factor * c
        if combined:
            target[v] = combined
        else:
            del target[v]
    if scale != 1:
        _normalize(target, None)


def _normalize(row: SparseRow, pivot: int | None) -> None:
    """Divide out the common factor (keeping entries small); make the pivot positive."""
    if not row:
        return
    divisor = gcd(*row.values())
    if pivot is not None and row[pivot] < 0:
        divisor = -divisor
    if divisor != 1:
        for v in row:
            row[v] //= divisor
