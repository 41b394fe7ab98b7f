"""The reproducible pipeline: config, the registry of outputs, and the provenance manifest.

``reunistat reproduce`` calls :func:`reproduce`: it generates the default
synthetic dataset if it is missing, derives the cohort once, runs every
numbered script in ``analyses/`` (each a thin ``run(ctx)`` that calls the
package and writes named outputs through the :class:`Context`), builds the
paper, checks every output against the disclosure rules and writes
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
from reunistat.pipeline.manifest import (
    build_manifest,
    git_commit,
    input_hashes,
    sha256_file,
    update_manifest,
    verify_manifest,
)
from reunistat.pipeline.run import (
    WORKBOOK_TABLES,
    RunResult,
    analysis_scripts,
    build_workbook,
    ensure_data,
    reproduce,
    run_script,
    run_scripts,
)

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
    "git_commit",
    "input_hashes",
    "load_config",
    "reproduce",
    "run_script",
    "run_scripts",
    "sha256_file",
    "update_manifest",
    "verify_manifest",
]
