"""Writers of a concept graph to interchange formats, one module per format; ``ontology.store.export_graph``
dispatches to them (``medunlearn ontology export --format …``)."""
