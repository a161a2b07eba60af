"""Disclosure control: no count below k is shown, and none can be worked out from the rest.

The checks here use their own constraint matrix with numpy, or plain enumeration, not the
production reduced echelon form, so a mistake there is not hidden by the same mistake here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import numpy as np
import pytest

from securedrop_lite.airgap.suppression import (
    Cell,
    JointTable,
    SuppressionError,
    recomputable,
    suppress,
)

K = 5


def _single(rows: Sequence[Sequence[int]]) -> JointTable:
    """Build a one-dimension table: value r0, r1... by period p0, p1..."""
    periods = [f"p{i}" for i in range(len(rows[0]))]
    return JointTable(periods, {"d": {f"r{i}": row for i, row in enumerate(rows)}})


def _variables_and_equations(table: JointTable) -> tuple[list[Cell], np.ndarray]:
    """Return every count and the equations between them, written out independently."""
    periods = table.periods
    interior = [Cell(d, v, p) for d, rows in table.counts.items() for v in rows for p in periods]
    row_totals = [Cell(d, v) for d, rows in table.counts.items() for v in rows]
    period_totals = [Cell(period=p) for p in periods]
    variables = interior + row_totals + period_totals + [Cell()]
    column = {cell: i for i, cell in enumerate(variables)}
    equations = []

    def equation(parts: list[Cell], total: Cell) -> None:
        coefficients = np.zeros(len(variables))
        coefficients[[column[part] for part in parts]] = 1
        coefficients[column[total]] = -1
        equations.append(coefficients)

    for d, rows in table.counts.items():
        for v in rows:
            equation([Cell(d, v, p) for p in periods], Cell(d, v))
        for p in periods:
            equation([Cell(d, v, p) for v in rows], Cell(period=p))
        equation([Cell(d, v) for v in rows], Cell())
    equation(period_totals, Cell())
    return variables, np.array(equations)


def _worked_out(
    table: JointTable, suppressed: frozenset[Cell], knowing_zeros: bool = False
) -> set[Cell]:
    """Return the suppressed counts the published ones determine (SVD, not RREF).

    knowing_zeros: the reader also knows which suppressed counts are 0.
    """
    variables, matrix = _variables_and_equations(table)
    hidden = [
        i
        for i, cell in enumerate(variables)
        if cell in suppressed and not (knowing_zeros and table.count(cell) == 0)
    ]
    if not hidden:
        return set()
    # A suppressed count is determined iff every solution of the homogeneous system
    # leaves it at 0, i.e. its row of a null-space basis (from the SVD) is zero.
    restricted = matrix[:, hidden]
    _, singular, rows_of_v = np.linalg.svd(restricted)
    rank = int(np.sum(singular > 1e-9))
    null_space = rows_of_v[rank:].T
    return {
        variables[variable]
        for position, variable in enumerate(hidden)
        if np.all(np.abs(null_space[position]) < 1e-9)
    }


def _pinned(table: JointTable, suppressed: frozenset[Cell]) -> set[Cell]:
    """Return the suppressed non-zero counts that every whole-number solution agrees on.

    Enumerates assignments of 0..grand total to the suppressed counts that satisfy the
    equations with the published counts, and stops once each count took two values.
    """
    variables, matrix = _variables_and_equations(table)
    equations = [{j: int(c) for j, c in enumerate(row) if c} for row in matrix]
    value = {i: table.count(c) for i, c in enumerate(variables) if c not in suppressed}
    # Totals first, so the parts after them are cut short by the totals' values.
    unknown = [i for i, c in reversed(list(enumerate(variables))) if c in suppressed]
    targets = {i for i in unknown if table.count(variables[i]) != 0}
    seen: dict[int, set[int]] = {i: set() for i in targets}
    bound = table.count(Cell())

    def candidates(variable: int) -> range:
        low, high = 0, bound
        for equation in equations:
            if variable not in equation:
                continue
            others = [j for j in equation if j != variable]
            rest = sum(equation[j] * value[j] for j in others if j in value)
            if all(j in value for j in others):
                forced = -rest * equation[variable]  # every coefficient is 1 or -1
                low, high = max(low, forced), min(high, forced)
            elif equation[variable] > 0 and all(j in value for j in equation if equation[j] < 0):
                high = min(high, -rest)  # a part of a known total; the other parts are >= 0
        return range(low, high + 1)

    def search(position: int) -> bool:
        if all(len(values) > 1 for values in seen.values()):
            return True
        if position == len(unknown):
            for i in targets:
                seen[i].add(value[i])
            return False
        variable = unknown[position]
        for candidate in candidates(variable):
            value[variable] = candidate
            if search(position + 1):
                return True
            del value[variable]
        return False

    search(0)
    return {variables[i] for i, values in seen.items() if len(values) == 1}


def _values(table: JointTable, cells: frozenset[Cell]) -> dict[Cell, int]:
    return {cell: table.count(cell) for cell in cells}


def _random_table(rng: random.Random) -> JointTable:
    """Build a joint table from random cases, so every dimension adds up alike."""
    periods = [f"p{i}" for i in range(rng.randint(1, 4))]
    sizes = [rng.randint(1, 4) for _ in range(rng.randint(1, 3))]
    counts = {f"d{d}": {f"v{v}": [0] * len(periods) for v in range(n)} for d, n in enumerate(sizes)}
    for _ in range(rng.randint(0, 12 * len(periods))):
        period = rng.randrange(len(periods))
        for d, n in enumerate(sizes):
            # Skewed towards the first values, so tables mix large and small counts.
            counts[f"d{d}"][f"v{min(int(rng.expovariate(0.8)), n - 1)}"][period] += 1
    return JointTable(periods, counts)


def test_the_independent_checker_finds_a_lone_hidden_count() -> None:
    table = _single([[4, 6], [7, 8]])
    assert _worked_out(table, frozenset({Cell("d", "r0", "p0")})) == {Cell("d", "r0", "p0")}


def test_a_count_of_4_is_suppressed_with_complements_in_its_row_and_column() -> None:
    table = _single([[9, 4, 8], [7, 6, 12], [10, 11, 5]])
    suppressed = suppress(table, K)
    assert Cell("d", "r0", "p1") in suppressed
    row_complements = {c for c in suppressed if c.value == "r0" and c.period not in (None, "p1")}
    column_complements = {c for c in suppressed if c.period == "p1" and c.value not in (None, "r0")}
    assert row_complements
    assert column_complements
    assert _worked_out(table, suppressed) == set()


def test_totals_below_k_are_suppressed() -> None:
    table = _single([[1, 2, 1], [6, 1, 9], [8, 1, 7]])
    suppressed = suppress(table, K)
    assert Cell("d", "r0") in suppressed  # row total 4
    assert Cell(period="p1") in suppressed  # period total 4
    assert _worked_out(table, suppressed) == set()


def test_a_grand_total_below_k_hides_everything() -> None:
    table = _single([[1, 0], [2, 1]])
    assert suppress(table, K) == frozenset(table.cells())


def test_a_bridge_between_two_suppressed_cycles_is_not_left_recomputable() -> None:
    # Two 2x2 blocks of small counts, joined by the small count at r1/p2: the blocks'
    # sums are known both by row and by column, which gives the bridge away.
    table = _single(
        [
            [2, 3, 9, 8, 7],
            [1, 2, 3, 9, 8],
            [9, 8, 3, 1, 9],
            [8, 9, 2, 4, 6],
            [7, 6, 9, 8, 9],
        ]
    )
    primary = frozenset(cell for cell in table.cells() if table.count(cell) < K)
    assert Cell("d", "r1", "p2") in _worked_out(table, primary)
    suppressed = suppress(table, K)
    assert primary < suppressed
    assert _worked_out(table, suppressed) == set()


ZERO_ROWS = [[4, 6], [6, 5], [0, 0], [0, 0]]


def test_suppressed_zeros_can_pin_a_count_the_equations_alone_do_not() -> None:
    # harassment 4 and 6, bullying 6 and 5, nothing else: the quarter totals (10, 11)
    # less bullying cap harassment at 4 and 6, and its total 10 says both caps are met.
    table = _single(ZERO_ROWS)
    hidden = frozenset(
        cell
        for cell in table.cells()
        if cell.value in ("r0", "r2", "r3") and cell != Cell("d", "r0")
    )
    assert _worked_out(table, hidden) == set()
    assert _pinned(table, hidden) == {Cell("d", "r0", "p0"), Cell("d", "r0", "p1")}


def test_suppressed_zeros_do_not_let_a_count_be_pinned() -> None:
    table = _single(ZERO_ROWS)
    suppressed = suppress(table, K)
    assert Cell("d", "r0", "p0") in suppressed
    # Harassment and bullying hide each other; every total of 5 or more stays shown.
    assert {cell for cell in suppressed if table.count(cell) >= K} == {
        Cell("d", "r0", "p1"),
        Cell("d", "r1", "p0"),
        Cell("d", "r1", "p1"),
    }
    assert _worked_out(table, suppressed) == set()
    assert _pinned(table, suppressed) == set()


def test_a_table_without_small_counts_suppresses_nothing() -> None:
    table = JointTable(
        ["q1", "q2"],
        {"a": {"x": [5, 9], "y": [6, 5]}, "b": {"u": [6, 7], "w": [5, 7]}},
    )
    assert suppress(table, K) == frozenset()


def test_the_dimensions_are_protected_together_through_shared_totals() -> None:
    counts = {
        "a": {"x": [3, 8], "y": [5, 6], "z": [2, 2]},
        "b": {"u": [5, 8], "w": [5, 8]},
    }
    table = JointTable(["q1", "q2"], counts)
    # Protected one by one, table a hides the period totals, which b's cells give away.
    separately = frozenset().union(
        *(suppress(JointTable(["q1", "q2"], {d: rows}), K) for d, rows in counts.items())
    )
    assert _worked_out(table, separately) == {Cell(period="q1"), Cell(period="q2")}
    assert _worked_out(table, suppress(table, K)) == set()


def test_random_tables_hide_every_small_count_and_leave_none_recomputable() -> None:
    rng = random.Random(20261122)
    complementary = 0
    for _ in range(300):
        table = _random_table(rng)
        k = rng.choice([2, 3, 5])
        suppressed = suppress(table, k)
        small = {cell for cell in table.cells() if table.count(cell) < k}
        assert small <= suppressed, _values(table, frozenset(small - suppressed))
        assert _worked_out(table, suppressed) == set(), table.counts
        assert _worked_out(table, suppressed, knowing_zeros=True) == set(), table.counts
        complementary += len(suppressed - small)
    assert complementary > 0  # the sample does exercise complementary suppression


def test_small_random_tables_leave_no_count_pinned_by_whole_number_solutions() -> None:
    # One dimension keeps the enumeration quick; the joint system is covered above.
    rng = random.Random(11)
    needed_complements = 0
    for _ in range(150):
        periods = [f"p{i}" for i in range(rng.randint(1, 3))]
        rows = {f"v{v}": [0] * len(periods) for v in range(rng.randint(2, 3))}
        for _ in range(rng.randint(1, 12)):
            value = min(int(rng.expovariate(1.0)), len(rows) - 1)
            rows[f"v{value}"][rng.randrange(len(periods))] += 1
        table = JointTable(periods, {"d": rows})
        suppressed = suppress(table, 3)
        assert _pinned(table, suppressed) == set(), rows
        needed_complements += bool(suppressed - {c for c in table.cells() if table.count(c) < 3})
    assert needed_complements > 20


def test_tables_with_unused_categories_leave_no_count_pinned() -> None:
    # Most categories are unused in a small office: the zeros that bound the rest.
    # (With this seed, checking the plain equations only leaves 8 tables pinned.)
    rng = random.Random(10)
    for _ in range(200):
        size = rng.randint(2, 4)
        used = rng.sample(range(size), rng.randint(1, min(3, size)))
        rows = {f"v{v}": [rng.randint(1, 6) if v in used else 0 for _ in "ab"] for v in range(size)}
        table = JointTable(["p0", "p1"], {"d": rows})
        assert _pinned(table, suppress(table, K)) == set(), rows


def test_recomputable_agrees_with_an_independent_rank_check() -> None:
    rng = random.Random(7)
    agreed_on_some = False
    for _ in range(200):
        table = _random_table(rng)
        cells = table.cells()
        hidden = {i for i in range(len(cells)) if rng.random() < 0.5}
        position = {cell: i for i, cell in enumerate(cells)}
        rows = [{position[c]: n for c, n in equation} for equation in table.constraints()]
        found = {cells[i] for i in recomputable(rows, hidden)}
        expected = _worked_out(table, frozenset(cells[i] for i in hidden))
        assert found == expected
        agreed_on_some |= bool(expected)
    assert agreed_on_some


def test_a_full_size_report_is_protected_in_well_under_a_second() -> None:
    rng = random.Random(3)
    periods = [f"2026-{m:02d}" for m in range(1, 13)] + [f"2027-{m:02d}" for m in range(1, 9)]
    sizes = {"conduct": 8, "workplace": 8, "role": 8}
    counts = {d: {f"v{v}": [0] * len(periods) for v in range(n)} for d, n in sizes.items()}
    for period in range(len(periods)):
        for _ in range(rng.randint(20, 40)):
            for d, n in sizes.items():
                counts[d][f"v{min(int(rng.expovariate(1.0)), n - 1)}"][period] += 1
    table = JointTable(periods, counts)
    started = time.perf_counter()
    suppressed = suppress(table, K)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert _worked_out(table, suppressed) == set()
    assert _worked_out(table, suppressed, knowing_zeros=True) == set()


@pytest.mark.parametrize("k", [1, 0, -3])
def test_k_below_2_is_refused(k: int) -> None:
    with pytest.raises(SuppressionError):
        suppress(_single([[9, 9], [9, 9]]), k)


def test_dimensions_that_do_not_add_up_alike_are_refused() -> None:
    with pytest.raises(SuppressionError):
        JointTable(["q1"], {"a": {"x": [5]}, "b": {"u": [6]}})


def test_negative_counts_are_refused() -> None:
    with pytest.raises(SuppressionError):
        _single([[5, -1]])
