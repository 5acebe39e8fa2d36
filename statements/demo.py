"""Demo statement batches for the embedded default (filled in below)."""

from practices.demo import DemoResult


def demo_seed() -> DemoResult:
    return DemoResult(practices=[], created=False)
