"""Cost of the kernels callback and of neighbours.py: `python scripts/benchmark_figures.py`.

Times, on random weights, one kernels-figure call per network layout (TensorBoard's PNG
included) and the neighbours search over 45,000 CIFAR-sized images; prints them as JSON."""

import argparse
import json


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    from alexnet_lightning.benchmarks.figures import figure_costs  # torch: after --help

    print(json.dumps(figure_costs(), indent=2))


if __name__ == "__main__":
    main()
