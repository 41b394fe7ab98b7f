"""A new study folder (``reunistat init``) from the study template the package ships.

The template is the repository's own ``analyses/`` (the numbered scripts and
``config.toml``) and ``paper/``. A wheel carries them inside the package, as
``reunistat/study/`` (the build's ``force-include``), read here with
:mod:`importlib.resources`; an editable install reads them from the checkout.
The new folder runs on its own: ``reunistat reproduce`` there uses its
``analyses/config.toml``, whose paths are relative to the folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from reunistat.errors import PipelineError
from reunistat.pipeline.config import DEFAULT_CONFIG, load_config

#: The template's folders, as the study folder has them.
TEMPLATE_DIRS = ("analyses", "paper")
#: Where a real extract goes in a study folder (data/ is kept out of git).
EXTRACT_DIR = "data/extract"
#: Where synthetic mode generates its dataset in a study folder.
SYNTHETIC_DIR = "data/synthetic/england"
_SKIP = ("__pycache__", ".ipynb_checkpoints")

GITIGNORE = """\
# Data never goes into git: the extract, and the synthetic data `reunistat reproduce`
# generates in synthetic mode.
/data/
# The outputs are rebuilt by `reunistat reproduce`; release them through output checking
# (with ACRO's results beside them). The lock file guards a run in progress.
/outputs/
/outputs-acro/
/.outputs.lock
__pycache__/
*.pyc
"""

MAKEFILE = """\
# `make` runs the study from its extract; `make verify` checks the outputs folder again.
DATA ?= {extract}

.PHONY: reproduce verify

reproduce:
\treunistat reproduce --data $(DATA)

verify:
\treunistat reproduce --verify --data $(DATA)
"""

README = """\
# {name}

A study of children who return home from care and re-enter it, on the SSDA903
children-looked-after return, made with `reunistat init` (reunistat {version}).
Every output and the paper come from one command run in this folder.

## Run it

```bash
reunistat reproduce --data /path/to/extract     # or put the extract in {extract}/ and run `make`
reunistat reproduce --verify --data /path/to/extract   # check the outputs again before release
```

The extract is the folder of 903 tables (header and episodes; cin, npd, postcodes,
la optional), as CSV the way DfE ships them or Parquet. `data/` and `outputs/` are
kept out of git (`.gitignore`): only code, configuration and the paper template are
committed.

To try the study first on synthetic data with known truth, run
`reunistat reproduce --mode synthetic --scale 0.05` (it generates the data into
`{synthetic}/`), or `reunistat synth --out data/sample --scale 0.05 --csv` and point
`--data` at it.

## What is here

- `analyses/config.toml`: the run's settings (data mode and folder, cohort rules, horizons,
  covariates, disclosure control), each key commented.
- `analyses/NN_*.py`: the analysis scripts, run in order; edit them, or add your own
  `NN_name.py`.
- `paper/paper.md`: the paper template, filled from the outputs (see `paper/README.md`).
- `outputs/`: written by `reunistat reproduce`: tables, figures, the paper and
  `manifest.json`.

Disclosure control is on ({mode} mode): counts below the threshold are suppressed, and
the run fails rather than write an unsafe file. `outputs/manifest.json` records the
hash of every input and output, the config, the seed, the software versions and this
folder's git commit: put the folder under git (`git init`) so the commit is recorded.
"""


@dataclass(frozen=True)
class Study:
    """A study folder made by :func:`init_study`."""

    root: Path
    files: tuple[Path, ...]
    mode: str


def template_root() -> Traversable:
    """Return the study template: ``reunistat/study`` when installed, else the checkout.

    The folder (or :class:`~importlib.resources.abc.Traversable`) holds
    ``analyses/`` and ``paper/``.
    """
    packaged = resources.files("reunistat") / "study"
    if packaged.is_dir():
        return packaged
    checkout = Path(str(resources.files("reunistat"))).resolve().parents[1]
    if (
        all((checkout / d).is_dir() for d in TEMPLATE_DIRS)
        and (checkout / "pyproject.toml").is_file()
    ):
        return checkout
    raise PipelineError(
        "the study template (analyses/ and paper/) is not installed with this reunistat: "
        "reinstall it from a wheel or a checkout of the repository"
    )


def init_study(directory: str | Path, mode: str = "real", name: str | None = None) -> Study:
    """Make a new study folder: the analysis scripts, config and paper template, ready to run.

    Parameters
    ----------
    directory
        The new folder. It must not exist, or be empty.
    mode
        ``data.mode`` of the study's config: ``"real"`` (an extract in
        ``data/extract``, disclosure control with zeros suppressed) or
        ``"synthetic"`` (data generated into ``data/synthetic/england``).
    name
        The study's title in its README (default: the folder's name).

    Returns
    -------
    Study
        The folder, the files written (relative to it) and the mode.

    Raises
    ------
    PipelineError
        If the folder exists and is not empty, or the template cannot be found.
    """
    root = Path(directory)
    if mode not in ("real", "synthetic"):
        raise PipelineError(f"mode must be 'real' or 'synthetic', got {mode!r}")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise PipelineError(
            f"{root} already exists and is not an empty folder: choose a new folder for the study"
        )
    template = template_root()
    written: list[Path] = []
    for d in TEMPLATE_DIRS:
        written += _copy_tree(template / d, root / d, root)
    config = root / DEFAULT_CONFIG
    config.write_text(study_config(config.read_text("utf-8"), mode), "utf-8")
    _check_config(config, mode)
    from reunistat import __version__

    extract = EXTRACT_DIR if mode == "real" else SYNTHETIC_DIR
    extras = {
        "README.md": README.format(
            name=name or root.resolve().name,
            version=__version__,
            extract=EXTRACT_DIR,
            synthetic=SYNTHETIC_DIR,
            mode=mode,
        ),
        ".gitignore": GITIGNORE,
        "Makefile": MAKEFILE.format(extract=extract),
    }
    for rel, text in extras.items():
        (root / rel).write_text(text, "utf-8")
        written.append(Path(rel))
    return Study(root=root, files=tuple(sorted(written)), mode=mode)


def study_config(text: str, mode: str) -> str:
    r"""Return the template's ``config.toml`` text set for a study folder in ``mode``.

    Only the data mode and folder change, and the comment that says what relative
    paths are relative to; every other key and comment is kept.

    >>> t = 'x\n# (the repository root).\n[data]\nmode = "synthetic"\ndir = "a/b"\n'
    >>> print(study_config(t, "real"), end="")
    x
    # (this study folder).
    [data]
    mode = "real"
    dir = "data/extract"
    """
    folder = EXTRACT_DIR if mode == "real" else SYNTHETIC_DIR
    text = text.replace("(the repository root)", "(this study folder)")
    text = re.sub(r'(?m)^mode = "[a-z]+"', f'mode = "{mode}"', text, count=1)
    return re.sub(r'(?m)^dir = "[^"]*"', f'dir = "{folder}"', text, count=1)


def _check_config(path: Path, mode: str) -> None:
    cfg = load_config(path)
    want = Path(EXTRACT_DIR if mode == "real" else SYNTHETIC_DIR)
    if cfg.mode != mode or cfg.data_dir != want:
        raise PipelineError(
            f"{path}: the template's [data] mode and dir could not be set "
            f"(got {cfg.mode!r}, {cfg.data_dir}); set them by hand"
        )


def _copy_tree(src: Traversable, dest: Path, root: Path) -> list[Path]:
    """Copy a template folder (skipping caches) and return the files, relative to ``root``."""
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for item in sorted(src.iterdir(), key=lambda t: t.name):
        if item.name in _SKIP or item.name.endswith(".pyc"):
            continue
        target = dest / item.name
        if item.is_dir():
            out += _copy_tree(item, target, root)
        else:
            target.write_bytes(item.read_bytes())
            out.append(target.relative_to(root))
    return out
