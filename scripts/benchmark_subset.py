"""Measure the ImageNet-subset path: `python scripts/benchmark_subset.py [--pack] [--help]`
(the method: alexnet_lightning/benchmarks/subset.py, or --help)."""

from alexnet_lightning.benchmarks.subset import main

if __name__ == "__main__":
    main()
