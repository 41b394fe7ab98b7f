"""reunistat: children who return home from care in England, and re-entry.

Nothing happens on import: submodules are imported where they are used.
"""

__version__ = "0.1.0"
