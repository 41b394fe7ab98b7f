"""Where the DfE validator's test return (2017-18) lives for the cohort tests."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The other tables (uasc, missing, previous_permanence, oc3, ad1), committed here.
OTHERS = HERE / "qlacv"
_HEADER_EPISODES = (
    HERE.parent / "reference" / "dfe" / "qlacv",  # committed with the DfE conformance tests
    Path("/work/shared/fixtures/sector903/qlacv"),  # the project's shared fixtures
)


def header_episodes_dir() -> Path:
    """Return the folder holding the return's header.csv and episodes.csv."""
    for d in _HEADER_EPISODES:
        if (d / "header.csv").is_file() and (d / "episodes.csv").is_file():
            return d
    raise FileNotFoundError(f"no header.csv and episodes.csv in any of {_HEADER_EPISODES}")
