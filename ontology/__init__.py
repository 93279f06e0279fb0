"""Medical ontologies into one concept graph.

>>> import ontology
>>> cg = ontology.load("doid.obo")            # doctest: +SKIP
>>> ontology.write_graph(cg, "graphs/doid")  # doctest: +SKIP

The public names are imported on first use, so ``import ontology`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ontology.common.lazy import lazy_getattr
from ontology.graph import ConceptGraph
from ontology.validate import validate  # eager: the submodule of the same name must not shadow the function

if TYPE_CHECKING:
    from ontology.loader import load, open_graph
    from ontology.merge import merge_graphs
    from ontology.store import export_graph, read_graph, write_graph

_LAZY = {
    "load": "ontology.loader",
    "open_graph": "ontology.loader",
    "merge_graphs": "ontology.merge",
    "read_graph": "ontology.store",
    "write_graph": "ontology.store",
    "export_graph": "ontology.store",
}

__all__ = [
    "ConceptGraph",
    "export_graph",
    "load",
    "merge_graphs",
    "open_graph",
    "read_graph",
    "validate",
    "write_graph",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
