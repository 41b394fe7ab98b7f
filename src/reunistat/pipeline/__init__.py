"""The reproducible pipeline: config, the registry of outputs, and the provenance manifest.

``reunistat reproduce`` calls :func:`reproduce`: it generates the default
synthetic dataset if it is missing, derives the cohort once, runs every
numbered script in ``analyses/`` (each a thin ``run(ctx)`` that calls the
package and writes named outputs through the :class:`Context`), builds the
paper, checks every file of the folder against the disclosure rules and
for identifiers (:mod:`reunistat.report.checker`) and writes
``outputs/manifest.json``: for each output its SHA-256, the script and the
package function that made it, and for the run the input data hashes, the
config, the seed, package versions and the git commit. Outputs are
byte-identical between runs; only the manifest holds timestamps.
"""

from reunistat.pipeline.config import (
    DEFAULT_CONFIG,
    DEFAULT_COVARIATES,
    MANIFEST,
    SAMPLE_DIR,
    PipelineConfig,
    PipelineError,
    load_config,
)
from reunistat.pipeline.context import Context, Output
from reunistat.pipeline.documents import WORKBOOK_TABLES, build_workbook
from reunistat.pipeline.manifest import (
    build_manifest,
    git_commit,
    input_hashes,
    load_manifest,
    sha256_file,
    verify_manifest,
)
from reunistat.pipeline.run import (
    RunResult,
    analysis_scripts,
    ensure_data,
    error_text,
    reproduce,
    run_script,
    run_scripts,
)
from reunistat.pipeline.verify import release_identifiers, verify_release

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_COVARIATES",
    "MANIFEST",
    "SAMPLE_DIR",
    "WORKBOOK_TABLES",
    "Context",
    "Output",
    "PipelineConfig",
    "PipelineError",
    "RunResult",
    "analysis_scripts",
    "build_manifest",
    "build_workbook",
    "ensure_data",
    "error_text",
    "git_commit",
    "input_hashes",
    "load_config",
    "load_manifest",
    "release_identifiers",
    "reproduce",
    "run_script",
    "run_scripts",
    "sha256_file",
    "verify_manifest",
    "verify_release",
]
