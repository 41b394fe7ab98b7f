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
same values. It is sent in three messages (:func:`send_cohort`,
:func:`receive_cohort`): the periods of care, the spells, the rest. The
run's process, its imports done, unpickles each while the forked process
pickles the next (the whole in one message was pickled, then unpickled: about
0.5 + 0.35 s CPU at national size, one after the other).

The forked process then ends: the release-wide suppression is built by the
run's process once the workers have started (:mod:`reunistat.pipeline.workers`),
with the modules it needs imported already (the forked process would import
them again), and the input's identifiers and the spells' hash are taken there
while the workers run (:class:`reunistat.pipeline.finish.WhileScriptsRun`).
When it fails, the run's process derives the cohort itself, where an error
stops the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import pandas as pd

    from reunistat.cohort import Cohort


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


def send_cohort(send: Connection, cohort: Cohort, tables: Mapping[str, pd.DataFrame]) -> None:
    """Send :func:`portable` of ``cohort`` in three messages: periods, spells, the rest.

    The largest first: the receiver unpickles it while the next is pickled.
    """
    sent = portable(cohort, tables)
    rest = {f.name: getattr(sent, f.name) for f in dataclasses.fields(sent)}
    send.send(rest.pop("periods"))
    send.send(rest.pop("spells"))
    send.send(rest)


def receive_cohort(receive: Connection, tables: Mapping[str, pd.DataFrame]) -> Cohort:
    """The cohort :func:`send_cohort` sent, with ``tables``' frames back where named.

    Raises ``EOFError`` (or ``OSError``) when the sender stopped before the
    last message.
    """
    from reunistat.cohort import Cohort

    periods = receive.recv()
    spells = receive.recv()
    return restored(Cohort(periods=periods, spells=spells, **receive.recv()), tables)
