"""What `serve_load` prints: one scenario's figures, the table and the goal lines."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from harness import benchmark
from harness.load import LoadResult


@dataclass
class Figures:
    """One scenario's runs and their medians."""

    mode: str
    database: str
    scenario: str
    runs: list[LoadResult]
    cpu_share: list[float]
    server_cpu: list[float]  # gunicorn workers' CPU milliseconds per request, per run

    @property
    def rate(self) -> float:
        return benchmark.median([r.rate for r in self.runs])

    def latency_ms(self, q: float) -> float:
        return benchmark.median([r.percentile(q) * 1000 for r in self.runs])

    @property
    def spread(self) -> float:
        """(max - min) / median of the runs' rates: how far to trust the median."""
        rates = [r.rate for r in self.runs]
        return (max(rates) - min(rates)) / self.rate if self.rate else 0.0

    @property
    def server_errors(self) -> int:
        return sum(r.server_errors for r in self.runs)

    @property
    def statuses(self) -> Counter[tuple[str, int]]:
        total: Counter[tuple[str, int]] = Counter()
        for run in self.runs:
            total.update(run.statuses)
        return total

    @property
    def unexpected(self) -> Counter[tuple[str, int]]:
        total: Counter[tuple[str, int]] = Counter()
        for run in self.runs:
            total.update(run.unexpected)
        return total

    @property
    def transport_errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for run in self.runs:
            total.update(run.errors)
        return total


def table_row(f: Figures) -> str:
    errors = sum(f.transport_errors.values())
    unexpected = sum(f.unexpected.values())
    return (
        f"{f.mode:<8} {f.database:<10} {f.scenario:<22} {f.rate:>8.0f} {f.spread * 100:>6.0f}% "
        f"{f.latency_ms(0.50):>8.2f} {f.latency_ms(0.99):>8.2f} {f.server_errors:>5} {unexpected:>5} "
        f"{errors:>5} {benchmark.median(f.cpu_share) * 100:>7.0f}% {benchmark.median(f.server_cpu):>8.2f}"
    )


HEADER = (
    f"{'mode':<8} {'database':<10} {'scenario':<22} {'req/s':>8} {'spread':>7} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'5xx':>5} {'unexp':>5} {'conn':>5} {'gen CPU':>8} {'CPU ms/req':>8}"
)


LEGEND = (
    "req/s, p50, p99: medians over the runs; spread: (max-min)/median of req/s; 5xx: server errors; "
    "unexp: other statuses than the scenario expects; conn: connection errors; gen CPU: the load "
    "generator's own CPU use (100% = one core) out of the 2 it shares with gunicorn; CPU ms/req: "
    "gunicorn workers' CPU per request (the database server's not included), steadier than req/s "
    "on a busy machine"
)


def summarize(
    figures: list[Figures], pool_lines: list[tuple[str, bool]], runs: int, concurrency: int
) -> None:
    """The goal lines: ratio to the ceiling, 5xx count, pools back to zero."""
    print(
        f"\nmedians of {runs} rounds (scenarios interleaved); latency includes queueing "
        f"behind {concurrency} client connections"
    )
    ceilings = {f.mode: f for f in figures if f.scenario.startswith("ceiling")}
    for f in figures:
        if f.scenario != "read-by-key" or f.mode not in ceilings:
            continue
        ceiling = ceilings[f.mode]
        # Per round (both measured back to back), then the median of those.
        per_round = [r.rate / c.rate for r, c in zip(f.runs, ceiling.runs, strict=True) if c.rate]
        value = benchmark.median(per_round) if per_round else 0.0
        by_cpu = benchmark.median(
            [c / r for r, c in zip(f.server_cpu, ceiling.server_cpu, strict=True) if r]
        )
        print(
            f"ratio read-by-key/ceiling  {f.mode:<8} {f.database:<10} {value:.2f} "
            f"(per-round ratios {', '.join(f'{v:.2f}' for v in per_round)})  "
            f"(goal >= 0.5: {benchmark.verdict(value >= 0.5)});  by worker CPU per request: {by_cpu:.2f}"
        )
    server_errors = sum(f.server_errors for f in figures)
    per = ", ".join(
        f"{f.mode}/{f.database}/{f.scenario}: {f.server_errors}" for f in figures if f.server_errors
    )
    print(
        f"5xx responses, all scenarios: {server_errors}  (goal 0: {benchmark.verdict(server_errors == 0)})"
        + (f"  {per}" if per else "")
    )
    unexpected: Counter[tuple[str, int]] = Counter()
    transport: Counter[str] = Counter()
    for f in figures:
        unexpected.update(f.unexpected)
        transport.update(f.transport_errors)
    print(
        f"responses with an unexpected status: {sum(unexpected.values())} {dict(unexpected) or ''}"
        f"  (goal 0: {benchmark.verdict(not unexpected)})"
    )
    print(
        f"connection errors: {sum(transport.values())} {dict(transport) or ''}"
        f"  (goal 0: {benchmark.verdict(not transport)})"
    )
    for f in figures:
        if f.scenario.startswith("mixed"):
            shown = ", ".join(
                f"{kind} {status} x{n}" for (kind, status), n in sorted(f.statuses.items())
            )
            print(f"mixed statuses {f.mode}/{f.database}: {shown}")
    for line, ok in pool_lines:
        print(f"pool {line}  (goal 0 on every worker: {benchmark.verdict(ok)})")
