"""Cost of the kernels callback and of neighbours.py: `python scripts/benchmark_figures.py`."""

import json

from alexnet_lightning.benchmarks.figures import figure_costs

if __name__ == "__main__":
    print(json.dumps(figure_costs(), indent=2))
