"""Medical ontologies into one concept graph."""
