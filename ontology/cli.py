"""``medunlearn ontology …``: build, inspect, search, export and validate concept graphs."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from ontology.common.cli import CliGroup
from ontology.common.errors import InputError

app = typer.Typer(
    help="Read medical ontologies (OWL, OBO, MeSH, UMLS, tables) into one concept graph.",
    cls=CliGroup,
)


class SourceFormat(str, Enum):
    auto = "auto"
    owl = "owl"
    ttl = "ttl"
    nt = "nt"
    jsonld = "jsonld"
    obo = "obo"
    obographs = "obographs"
    mesh_tree = "mesh-tree"
    mesh_xml = "mesh-xml"
    mesh_csv = "mesh-csv"
    umls = "umls"
    tsv = "tsv"
    icd10cm = "icd10cm"
    pubtator = "pubtator"


class ExportFormat(str, Enum):
    obo = "obo"
    owl = "owl"
    ttl = "ttl"
    obographs = "obographs"
    sssom = "sssom"
    graphml = "graphml"
    node_link = "node-link"


def _echo_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def _load_sources(
    sources: list[Path], fmt: str, strict: bool, synonyms: list[Path] | None = None, min_mentions: int = 1
):
    from ontology.loader import load

    return load(
        sources,
        format=fmt,
        strict=strict,
        synonyms=synonyms or [],
        synonym_options={"min_mentions": min_mentions},
    )


def _synonym_line(summary: dict) -> str:
    if "mentions" in summary:  # an annotated corpus
        unknown = ", ".join(f"{k} ({v})" for k, v in list(summary["unknown_ids"].items())[:5])
        more = len(summary["unknown_ids"]) - 5
        return (
            f"{summary['file']}: {summary['linked']} linked mentions ({summary['composite']} composite, "
            f"{summary['unlinked']} unlinked -1) → {summary['synonyms_added']} synonyms on "
            f"{summary['concepts_with_synonyms']} concepts; {summary['unknown_mentions']} mentions of "
            f"{len(summary['unknown_ids'])} ids not in the graph"
            + (f": {unknown}" + (f" and {more} more" if more > 0 else "") if unknown else "")
        )
    scopes = ", ".join(f"{v} {k}" for k, v in sorted(summary["by_scope"].items()))
    return (
        f"{', '.join(summary['files'])}: {summary['joined']} of {summary['concepts']} concepts joined to "
        f"{summary['targets']} concepts through xrefs ({scopes}), {summary['synonyms_added']} synonyms added; "
        f"{summary['unknown_targets']} xrefs name no concept of the graph"
    )


@app.command()
def build(
    sources: list[Path] = typer.Argument(
        ..., help="Ontology files (or UMLS META directories) to read and merge."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Graph directory to write (replaced atomically)."),
    format: SourceFormat = typer.Option(
        SourceFormat.auto, "--format", "-f", help="Source format; auto guesses it."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Fail at the first unreadable item instead of skipping it."
    ),
    synonyms: list[Path] | None = typer.Option(
        None,
        "--synonyms",
        help="Synonym source (repeatable): an annotated corpus (PubTator) or an ontology whose concepts lend "
        "their names to the concepts they xref (e.g. DO's MESHinDO.tsv on a MeSH graph). Creates no concept.",
    ),
    min_mentions: int = typer.Option(
        1,
        "--min-mentions",
        min=1,
        help="An annotated mention text becomes a synonym from this many mentions.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the graph's stats as JSON."),
) -> None:
    """Read SOURCE files into one concept graph and write it to the GRAPH directory.

    Several sources are merged: concepts linked by xrefs (DO→MeSH, MeSH↔UMLS) become one node whose id is
    the one from the earliest source given; a joined label is an EXACT synonym only when the mapping is
    exact; conflicts are kept in meta.json (`merge_conflicts`). Annotated corpora in PubTator format
    (BC5CDR) given as SOURCE or --synonyms add their curated mention texts as RELATED synonyms of the
    concepts they are linked to, with counts (node attribute `corpus_evidence`); ids the graph lacks are
    reported. Skipped items are counted (see `stats`) and listed by `validate`.
    """
    from ontology.store import write_graph

    cg = _load_sources(sources, format.value, strict, synonyms, min_mentions)
    write_graph(cg, out)
    stats = cg.stats()
    if as_json:
        _echo_json({**stats, "synonym_sources": cg.graph.graph.get("synonym_sources", [])})
    else:
        for summary in cg.graph.graph.get("synonym_sources", []):
            typer.echo(_synonym_line(summary))
        typer.echo(
            f"{out}: {stats['concepts']} concepts, {stats['edges']} is_a edges, {stats['roots']} roots, "
            f"max depth {stats['max_depth']}, {stats['obsolete']} obsolete, {stats['skipped']} skipped"
        )


@app.command()
def stats(
    graph: Path = typer.Argument(..., help="Graph directory written by `build`."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Counts of a graph: concepts, edges, roots, leaves, max_depth, obsolete, skipped, sources, by_source.

    `roots` leaves out obsolete concepts; `max_depth` is the largest shortest distance to a root.
    """
    from ontology.store import read_graph

    result = read_graph(graph).stats()
    if as_json:
        _echo_json(result)
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")


@app.command()
def show(
    graph: Path = typer.Argument(..., help="Graph directory written by `build`."),
    concept_id: str = typer.Argument(..., metavar="ID", help="Concept id (CURIE), e.g. MESH:D001008."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Everything about one concept: attributes, parents, children, depth and paths to the root."""
    from ontology.store import read_graph

    cg = read_graph(graph)
    if concept_id not in cg:
        raise InputError(f"no concept {concept_id!r} in the graph", graph)
    info = cg.concept(concept_id)
    info["parents"] = [{"id": p, "label": cg.label(p)} for p in cg.parents(concept_id)]
    info["children"] = [{"id": c, "label": cg.label(c)} for c in cg.children(concept_id)]
    info["depth"] = cg.depth(concept_id)
    info["paths_to_root"] = cg.paths_to_root(concept_id)
    if as_json:
        _echo_json(info)
        return
    for key, value in info.items():
        if key == "paths_to_root":
            for path in value:
                typer.echo("path: " + " > ".join(f"{c} ({cg.label(c)})" for c in reversed(path)))
        elif key in ("parents", "children"):
            typer.echo(f"{key}: " + ", ".join(f"{x['id']} ({x['label']})" for x in value))
        else:
            typer.echo(f"{key}: {value}")


@app.command()
def search(
    graph: Path = typer.Argument(..., help="Graph directory written by `build`."),
    text: str = typer.Argument(..., help="Label or synonym to look up."),
    exact: bool = typer.Option(
        False, "--exact", help="Only exact matches (no case/hyphen/plural/Unicode folding)."
    ),
    limit: int = typer.Option(20, "--limit", "-n", help="Show at most this many matches."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Concepts whose label or synonym equals TEXT, exact matches first, then normalised ones.

    Normalisation folds case and Unicode (NFKC), treats hyphens as spaces and strips simple plurals
    (see `ontology.normalize`). Exits 1 when nothing matches.
    """
    from ontology.store import read_graph

    cg = read_graph(graph)
    hits = cg.search(text, normalized=not exact)[:limit]
    rows = [{"id": h, "label": cg.label(h), "source": cg.graph.nodes[h].get("source", "")} for h in hits]
    if as_json:
        _echo_json(rows)
    else:
        for r in rows:
            typer.echo(f"{r['id']}\t{r['label']}")
    if not hits:
        raise typer.Exit(1)


@app.command()
def export(
    graph: Path = typer.Argument(..., help="Graph directory written by `build`."),
    format: ExportFormat = typer.Option(
        ...,
        "--format",
        "-f",
        help="obo, owl (RDF/XML), ttl (OWL in Turtle), obographs (OBO Graphs JSON), sssom (mappings), "
        "graphml or node-link.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (atomically)."),
) -> None:
    """Export a graph to OBO, OWL, OBO Graphs JSON, SSSOM, GraphML or networkx node-link JSON.

    `ontology build` reads the OBO, OWL and OBO Graphs exports back to the same concepts, is_a edges, labels,
    synonyms, definitions, xrefs and tree numbers. IRIs use the sources' standard prefixes (MeSH RDF, OBO
    PURLs, BioPortal; `ontology.prefixes`). `sssom` writes the cross-source mappings (declared SKOS mappings,
    xrefs, merges) with predicate and justification. GraphML keeps list attributes as JSON strings.
    """
    from ontology.store import export_graph, read_graph

    export_graph(read_graph(graph), out, format.value)
    typer.echo(f"wrote {out}")


@app.command()
def validate(
    source: Path = typer.Argument(
        ..., help="An ontology file (read with the tolerant reader) or a graph directory."
    ),
    format: SourceFormat = typer.Option(
        SourceFormat.auto, "--format", "-f", help="Source format; auto guesses it."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the issues as JSON."),
) -> None:
    """Check an ontology file or graph directory for problems; exit 1 when there is an error.

    Errors: is_a cycles (printed as A → B → A), dangling parents, obsolete terms still in use.
    Warnings: duplicate labels within a source, lines the tolerant reader skipped.
    """
    from ontology.validate import validate as run_validate

    if source.is_dir() and (source / "meta.json").is_file():
        from ontology.store import read_graph

        cg = read_graph(source)
    else:
        cg = _load_sources([source], format.value, strict=False)
    issues = run_validate(cg)
    errors = sum(i.severity == "error" for i in issues)
    if as_json:
        _echo_json(
            [
                {"severity": i.severity, "code": i.code, "message": i.message, "concepts": i.concepts}
                for i in issues
            ]
        )
    else:
        for issue in issues:
            typer.echo(str(issue))
        typer.echo(f"{source}: {errors} errors, {len(issues) - errors} warnings", err=True)
    if errors:
        raise typer.Exit(1)
