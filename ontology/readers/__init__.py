"""One reader per source format; each returns an :class:`ontology.graph.ConceptGraph`.

Use :func:`ontology.loader.load` to pick the reader from the file; the modules here can
also be called directly for their format-specific options.
"""
