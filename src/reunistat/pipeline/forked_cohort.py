"""The cohort derived in a process forked from the run, beside the run's own imports.

At the start of a run two things take seconds and need nothing of each other
once the extract is read: deriving the cohort (pandas and numpy, one core)
and importing the modules the analysis scripts import (pure Python, which
holds the interpreter: in a thread beside the cohort it barely overlaps it).
Imported modules only pass from a process to the processes it forks, never
back; the cohort is data. So the run's process forks one process once the
extract is read, which derives the cohort and sends it back, while the run's
process imports the modules for every worker it forks later.

What is sent is the :class:`~reunistat.cohort.Cohort` as derived there
(pickled: the same values and dtypes), except the validated tables that are
the extract's own frames (the large ones when validation changed nothing):
those are named, and the run's process puts its own frame of the same name
back (:func:`portable`, :func:`restored`). Derivation copies a table before
it changes one, so the run's frame and the forked process's frame hold the
same values.

The forked process then takes the input's identifiers and the spells' hash
(:class:`reunistat.pipeline.finish.WhileScriptsRun`), on the core the run's
process leaves while it builds the release-wide suppression.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from reunistat.cohort import Cohort
    from reunistat.pipeline.context import Context


@dataclasses.dataclass(frozen=True)
class TheExtracts:
    """A validated table that is the extract's frame ``name`` itself (not sent)."""

    name: str


def portable(cohort: Cohort, tables: Mapping[str, pd.DataFrame]) -> Cohort:
    """The cohort to send: the validated tables that are ``tables``' own frames only named."""
    v = cohort.validated
    sent: dict[str, Any] = {
        k: TheExtracts(k) if tables.get(k) is df else df for k, df in v.tables.items()
    }
    return dataclasses.replace(cohort, validated=dataclasses.replace(v, tables=sent))


def restored(cohort: Cohort, tables: Mapping[str, pd.DataFrame]) -> Cohort:
    """The cohort :func:`portable` sent, with ``tables``' frames back where they were named."""
    v = cohort.validated
    got = {k: tables[df.name] if isinstance(df, TheExtracts) else df for k, df in v.tables.items()}
    return dataclasses.replace(cohort, validated=dataclasses.replace(v, tables=got))


def derive_and_send(ctx: Context, send: Any, parent: int) -> None:
    """In a process forked from the run: send the cohort, then the identifiers and spells' hash.

    Two messages on ``send``: the cohort (see :func:`portable`),
    then ``(identifiers without the data end, spells' hash, seconds)``. A
    step that fails sends nothing more: the run's process then does it
    itself, where its error stops the run as it would have.
    """
    from reunistat.pipeline.finish import _identifiers, _spells_hash
    from reunistat.pipeline.workers import detach_from_run

    detach_from_run(parent)
    try:
        send.send(portable(ctx.cohort, ctx.extract.tables))
        t0 = time.perf_counter()
        ids, sha = _identifiers(ctx), _spells_hash(ctx)
        send.send((ids, sha, round(time.perf_counter() - t0, 2)))
    except Exception:
        pass
    finally:
        send.close()
