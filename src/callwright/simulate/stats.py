"""How sure a simulator's pass rate is: Wilson intervals, pass^k, and the test that tells a
regression from noise.

* **Wilson score interval** (Wilson 1927) for a pass rate of ``passed`` out of ``runs``: unlike the
  normal approximation it stays inside 0..1 and is honest for small counts and for rates at 0 or 1,
  which is where a suite's rates live (5/5 gives 57-100 %, not 100-100 %).
* **pass^k** (Yao et al. 2024, τ-bench): the chance that ``k`` runs of a case all pass, estimated
  without bias from ``n`` runs with ``c`` passes as C(c, k) / C(n, k). With k = n it is 1 when every
  run passed and 0 otherwise: the strict reading of a flaky case.
* **Is it worse?** Fisher's exact test, one-sided: the chance of a pass count this low or lower now,
  if the earlier run and this one had the same pass rate (the hypergeometric tail, computed exactly
  with integers here, so the test needs no scipy). Many comparisons at once are held to one error
  rate by Holm's step-down method (Holm 1979), so a bigger suite does not raise false alarms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95 % interval


def wilson(passed: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the pass rate ``passed / runs`` (0..1 when there are no runs)."""
    if runs <= 0:
        return (0.0, 1.0)
    rate = passed / runs
    centre = (rate + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z / (1 + z * z / runs) * math.sqrt(rate * (1 - rate) / runs + z * z / (4 * runs * runs))
    return (max(0.0, centre - half), min(1.0, centre + half))


def pass_hat_k(passed: int, runs: int, k: int) -> float:
    """pass^k: the chance that ``k`` runs drawn from these ``runs`` all passed, C(passed, k) / C(runs, k)."""
    if not 1 <= k <= runs:
        raise ValueError(f"pass^k needs 1 <= k <= runs; got k={k}, runs={runs}")
    return math.comb(passed, k) / math.comb(runs, k)


def worse_p(before: tuple[int, int], now: tuple[int, int]) -> float:
    """One-sided Fisher exact p-value that ``now`` (passed, runs) has a lower pass rate than ``before``.

    The passes of both runs pooled, how likely is it that ``now``'s runs drew as few of them as they
    did, or fewer, if which run a pass fell in were chance: P(X <= now passed), X hypergeometric.
    """
    (b_pass, b_runs), (n_pass, n_runs) = before, now
    if not (0 <= b_pass <= b_runs and 0 <= n_pass <= n_runs):
        raise ValueError(f"counts must be 0 <= passed <= runs; got {before} and {now}")
    passes, everyone = b_pass + n_pass, b_runs + n_runs
    lowest = max(0, n_runs - (everyone - passes))
    tail = sum(math.comb(passes, x) * math.comb(everyone - passes, n_runs - x) for x in range(lowest, n_pass + 1))
    return tail / math.comb(everyone, n_runs)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which of ``p_values`` are rejected at family-wise error ``alpha`` by Holm's step-down method."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected
