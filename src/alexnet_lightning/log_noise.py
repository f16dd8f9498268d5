"""Lines our dependencies print that tell a user of this project nothing, kept out of its logs.

Each filter names one message and where it comes from, so that every other warning and log
line still reaches the user. Installed by entry/cli.py before a script's task runs (and so in
every rank and every sweep job, which run through it too).
"""

from __future__ import annotations

import logging
import re
import warnings

# (category, message regex, module regex of the warning's origin)
KNOWN_WARNINGS = (
    # torch 2.14 deprecated LeafSpec; Lightning 2.6's own pytree helper still builds one at
    # every training step's output
    (
        FutureWarning,
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        r"lightning\.pytorch\.utilities\._pytree",
    ),
    # on a machine with SLURM installed, every run outside a job (a sweep's own process on the
    # login node, a local test run) is told to prepend srun
    (
        UserWarning,
        r"The `srun` command is available on your system but is not used",
        r"lightning\.fabric\.plugins\.environments\.slurm",
    ),
)

# logger name -> message regex: Lightning's advertising for its cloud services
KNOWN_LOG_LINES = {
    "lightning.pytorch.utilities.rank_zero": r"💡 Tip: For seamless cloud (logging|uploads)",
}


class _DropMatching(logging.Filter):
    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


def silence_known_noise() -> None:
    """Install the filters (once per process; a second call changes nothing)."""
    for category, message, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name, pattern in KNOWN_LOG_LINES.items():
        logger = logging.getLogger(name)
        if not any(
            isinstance(f, _DropMatching) and f.pattern.pattern == pattern for f in logger.filters
        ):
            logger.addFilter(_DropMatching(pattern))


# Lightning's package loggers: importing ``lightning`` gives its logger a console handler of its
# own (``INFO: ...`` on stderr), and ``lightning.pytorch`` one too when nothing had configured
# logging yet; with Hydra's handlers on the root logger every message then came out twice.
LIBRARY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")


def one_copy_of_library_logs() -> None:
    """Once Hydra has configured logging (the root logger has handlers: its console and
    train.log), Lightning's messages go through those alone. A process without them (a DDP rank
    Lightning starts, whose Hydra logging is off) keeps Lightning's own handler, so its lines
    (``GLOBAL_RANK: 1, MEMBER: 2/2``) still reach the terminal."""
    if not logging.getLogger().handlers:
        return
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # not a FileHandler a user added
                logger.removeHandler(handler)
        logger.propagate = True
