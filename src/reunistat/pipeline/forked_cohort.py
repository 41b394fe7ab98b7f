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
same values. It is sent as two objects (:func:`send_cohort`,
:func:`receive_cohort`): the spells, then the rest, each pickled with its
arrays out of band (:func:`messages`: written to the pipe from where they are,
read into the memory they are made on). The run's process, its
imports done, unpickles the first while the forked process pickles the next
(the whole in one message was pickled, then unpickled: about 0.5 + 0.35 s CPU
at national size, one after the other). The periods of care are not sent
(52 MB, about 0.25 s CPU to pickle and unpickle at national size, on the way
to the workers' start): nothing the run does after the derivation reads them.
The cohort received derives them again from the extract the first time they
are read (:class:`PeriodsOnDemand`), so a study's own script still has them.

When workers will run the scripts, the forked process then builds the
release-wide suppression while the rest of the cohort is written to the pipe
(:class:`Sender`), hands it to the workers (:mod:`reunistat.pipeline.workers`),
and takes the spells' hash for the run's process, which takes the input's
identifiers while the workers run (:class:`reunistat.pipeline.finish.WhileScriptsRun`).
When it fails, the run's process derives the cohort itself, where an error
stops the run (and builds the release, or takes the hash, itself).
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from reunistat.cohort import Cohort, build_cohort

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import pandas as pd

    from reunistat.tables import Extract


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


#: Columns of text of about one value per row (the child's identifier): pickled value by
#: value they are the largest part of pickling the periods (0.12 s of 0.24 at national
#: size), as one Arrow string array 0.025 s (and 0.035 s back to objects instead of 0.055).
#: Columns of few distinct values pickle fast as they are (each repeat a memo reference).
_ONE_PER_ROW = ("CHILD",)


@dataclasses.dataclass(frozen=True)
class _Packed:
    """A frame sent without some columns of text, each as an Arrow string array."""

    frame: pd.DataFrame
    text: dict[str, tuple[int, Any]]  # column -> (position, pyarrow.StringArray)


def packed(df: pd.DataFrame) -> pd.DataFrame | _Packed:
    """``df`` to send: its columns of :data:`_ONE_PER_ROW` that hold only text (or None) as Arrow.

    The receiver's :func:`unpacked` gives a frame of the same columns, values
    and dtypes (the text as ``str`` objects again, None where None).
    """
    import pandas as pd
    import pyarrow as pa

    text: dict[str, tuple[int, Any]] = {}
    for c in _ONE_PER_ROW:
        if c not in df.columns or df[c].dtype != object or not df.columns.is_unique:
            continue
        values = df[c].to_numpy()
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            continue  # not all text (bytes would come back as str): sent as it is
        try:
            text[c] = (list(df.columns).index(c), pa.array(values, type=pa.string()))
        except (pa.ArrowException, TypeError):  # a blank not None (NaN): sent as it is
            continue
    if not text:
        return df
    rest = df.copy(deep=False)
    for c in text:
        del rest[c]
    return _Packed(rest, text)


def unpacked(sent: pd.DataFrame | _Packed) -> pd.DataFrame:
    """The frame :func:`packed` made ``sent`` of."""
    if not isinstance(sent, _Packed):
        return sent
    df = sent.frame
    for c, (at, values) in sorted(sent.text.items(), key=lambda kv: kv[1][0]):
        df.insert(at, c, values.to_numpy(zero_copy_only=False))
    return df


def send_cohort(
    send: Connection, cohort: Cohort, tables: Mapping[str, pd.DataFrame], beside: bool = False
) -> Sender | None:
    """Send :func:`portable` of ``cohort`` but its periods as two objects: spells, the rest.

    The largest first: the receiver unpickles it while the next is pickled.
    Each is pickled here (:func:`messages`); with ``beside`` they are written
    to the pipe (which waits for the receiver, outside the interpreter's
    lock) by a thread, returned: this thread goes on once the last is pickled.
    """
    sent = portable(cohort, tables)
    rest = {f.name: getattr(sent, f.name) for f in dataclasses.fields(sent)}
    del rest["periods"]  # derived again where read (PeriodsOnDemand)
    spells = messages(packed(rest.pop("spells")))
    if not beside:
        for message in [*spells, *messages(rest)]:
            send.send_bytes(message)
        return None
    sender = Sender(send, spells)
    sender.add(messages(rest))
    return sender


def messages(obj: Any) -> list[Any]:
    """``obj`` pickled as the messages :func:`received` takes: sizes, pickle, then its arrays.

    Pickle protocol 5 with out-of-band buffers: the arrays' memory (numpy's,
    Arrow's) is written to the pipe from where it is, not copied into the
    pickle (and out of it again by the receiver). The first message is the
    pickled list of the buffers' sizes.
    """
    import io

    buffers: list[pickle.PickleBuffer] = []
    head = io.BytesIO()
    ForkingPickler(head, 5, True, buffers.append).dump(obj)
    raw = [b.raw() for b in buffers]
    return [ForkingPickler.dumps([r.nbytes for r in raw]), head.getbuffer(), *raw]


def received(receive: Connection) -> Any:
    """The object :func:`messages` pickled, its arrays in memory read into from the pipe.

    Each buffer is read into a writable array of its size, on which numpy's
    and Arrow's arrays are made (not copied again): the same values and
    dtypes, writable, as unpickled from a pickle holding them.
    """
    import numpy as np

    sizes = receive.recv()
    head = receive.recv_bytes()
    buffers = []
    for n in sizes:
        buffer = np.empty(n, dtype=np.uint8)
        receive.recv_bytes_into(buffer)
        buffers.append(buffer)
    return pickle.loads(head, buffers=buffers)


class Sender:
    """A thread that writes lists of messages (pickled already) to a pipe, in the order given.

    :meth:`sent` waits for it and says whether it wrote them all.
    """

    def __init__(self, send: Connection, first: list[Any]) -> None:
        import queue
        import threading

        self._send = send
        self._queue: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        self._queue.put(first)
        self._failed = False
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def add(self, messages: list[Any]) -> None:
        """Write ``messages`` after those given before."""
        self._queue.put(messages)

    def sent(self) -> bool:
        """Wait until every message given is written; whether all were."""
        self._queue.put(None)
        self._thread.join()
        return not self._failed

    def _write(self) -> None:
        while (messages := self._queue.get()) is not None:
            for message in messages:
                if not self._failed:
                    try:
                        self._send.send_bytes(message)
                    except (OSError, ValueError):  # the receiver has gone: the rest is dropped
                        self._failed = True


def receive_cohort(receive: Connection, extract: Extract) -> Cohort:
    """The cohort :func:`send_cohort` sent from ``extract``, with its frames back where named.

    Its periods are derived from ``extract`` the first time they are read
    (:class:`PeriodsOnDemand`). Raises ``EOFError`` (or ``OSError``) when
    the sender stopped before the last message.
    """
    spells = unpacked(received(receive))
    got = Cohort(periods=None, spells=spells, **received(receive))  # type: ignore[arg-type]
    return on_demand(restored(got, extract.tables), extract)  # periods None: not kept


def on_demand(cohort: Cohort, extract: Extract) -> PeriodsOnDemand:
    """``cohort`` (derived from ``extract``) without its periods, derived again when read."""
    made = PeriodsOnDemand.__new__(PeriodsOnDemand)
    made.__dict__.update(vars(cohort))
    del made.__dict__["periods"]
    made.__dict__["_periods_from"] = extract
    return made


class PeriodsOnDemand(Cohort):
    """A cohort received without its periods of care: derived the first time they are read.

    From the extract with the cohort's config, as the forked process derived
    them (the derivation is a function of the two).
    """

    def __getattr__(self, name: str) -> Any:  # only for what the instance does not hold
        extract = self.__dict__.get("_periods_from")
        if name != "periods" or extract is None:
            raise AttributeError(name)
        periods = build_cohort(extract, self.config).periods
        self.__dict__["periods"] = periods
        return periods
