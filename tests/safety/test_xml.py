"""Every XML reader refuses DTD entities -- internal and external, general and parameter -- with one line
naming the file (``ontology build``: exit 2) and ``ontology validate`` lists them (exit 1); nothing is fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ontology.readers.xmlsafe import EntityRefused
from tests.safety.console import medunlearn, one_line_error

RDF_NS = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" '
    'xmlns:owl="http://www.w3.org/2002/07/owl#"'
)
#: reader -> (file name, --format, root element, document using the entity ``&x;``)
DOCUMENTS = {
    "rdfxml": (
        "x.owl",
        "owl",
        "rdf:RDF",
        f'<rdf:RDF {RDF_NS}><owl:Class rdf:about="http://purl.obolibrary.org/obo/X_1">'
        "<rdfs:label>&x;</rdfs:label></owl:Class></rdf:RDF>",
    ),
    "owlxml": (
        "x.owx",
        "owl",
        "Ontology",
        '<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://x/o">'
        '<Declaration><Class IRI="http://x/&x;"/></Declaration></Ontology>',
    ),
    "mesh-xml": (
        "desc.xml",
        "mesh-xml",
        "DescriptorRecordSet",
        "<DescriptorRecordSet><DescriptorRecord><DescriptorUI>D1</DescriptorUI><DescriptorName><String>&x;"
        "</String></DescriptorName></DescriptorRecord></DescriptorRecordSet>",
    ),
    "icd10cm": (
        "icd.xml",
        "icd10cm",
        "ICD10CM.tabular",
        "<ICD10CM.tabular><chapter><name>1</name><desc>&x;</desc></chapter></ICD10CM.tabular>",
    ),
}


def _attacks(secret: Path) -> dict[str, str]:
    """DOCTYPE internal subsets: each declares an entity in one of the four ways."""
    return {
        "internal general": '<!ENTITY x "lol">',
        "external general": f'<!ENTITY x SYSTEM "file://{secret}">',
        "internal parameter": "<!ENTITY % p \"<!ENTITY x 'lol'>\"> %p;",
        "external parameter": f'<!ENTITY % p SYSTEM "file://{secret}"> %p;',
    }


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(DOCUMENTS))
@pytest.mark.parametrize(
    "attack", ["internal general", "external general", "internal parameter", "external parameter"]
)
def test_entity_declarations_are_refused_by_build_and_listed_by_validate(
    tmp_path: Path, secret: Path, fmt: str, attack: str
) -> None:
    name, cli_format, root, body = DOCUMENTS[fmt]
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n{_attacks(secret)[attack]}\n]>\n{body}\n')
    built = medunlearn("ontology", "build", path, "--format", cli_format, "-o", tmp_path / "g")
    one_line_error(built, f"{path}:3: XML entity declarations are refused", "<!ENTITY ")
    assert not (tmp_path / "g").exists()
    checked = medunlearn("ontology", "validate", path)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.startswith(f"error: xml_entity: {path}:3: XML entity declarations are refused")
    assert "TOP-SECRET" not in checked.stdout + checked.stderr + built.stdout + built.stderr


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(DOCUMENTS))
def test_a_line_over_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """An XML line longer than MEDUNLEARN_MAX_LINE_BYTES (lowered here) is refused before parsing, as a line
    of any line-based input is; under the default limit the same file builds."""
    name, cli_format, _, body = DOCUMENTS[fmt]
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?>\n{body.replace("&x;", "a" * 2000)}\n')
    monkeypatch.setenv("MEDUNLEARN_MAX_LINE_BYTES", "1000")
    one_line_error(
        medunlearn("ontology", "build", path, "--format", cli_format, "-o", tmp_path / "g"),
        f"{path}:2: line longer than 1,000 bytes (the limit; MEDUNLEARN_MAX_LINE_BYTES raises it)",
    )
    assert not (tmp_path / "g").exists()
    monkeypatch.delenv("MEDUNLEARN_MAX_LINE_BYTES")
    built = medunlearn("ontology", "build", path, "--format", cli_format, "-o", tmp_path / "g")
    assert built.returncode == 0, built.stderr


@pytest.mark.slow
def test_an_external_dtd_is_refused_where_the_format_needs_none(tmp_path: Path, secret: Path) -> None:
    """Not fetched by any parser, the DTD's entities would silently vanish (an empty label): refused."""
    dtd = tmp_path / "x.dtd"
    dtd.write_text('<!ENTITY x "from the DTD">')
    name, _, _, body = DOCUMENTS["rdfxml"]
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "file://{dtd}">\n{body}\n')
    one_line_error(
        medunlearn("ontology", "build", path, "-o", tmp_path / "g"), f"{path}:2: an external DTD is refused"
    )


@pytest.mark.slow
def test_mesh_keeps_its_external_dtd(tmp_path: Path) -> None:
    """NLM's files name desc20XX.dtd: fine (never fetched), the records are read."""
    path = tmp_path / "desc.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE DescriptorRecordSet SYSTEM "https://nlm.invalid/desc2017.dtd">\n'
        "<DescriptorRecordSet><DescriptorRecord><DescriptorUI>D000001</DescriptorUI><DescriptorName><String>"
        "Calcimycin</String></DescriptorName><TreeNumberList><TreeNumber>D03.633</TreeNumber></TreeNumberList>"
        "</DescriptorRecord></DescriptorRecordSet>\n"
    )
    done = medunlearn("ontology", "build", path, "-o", tmp_path / "g")
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_remote_json_ld_context_is_refused(tmp_path: Path, secret: Path) -> None:
    """JSON-LD's external entity: a context loaded from a URL or a file (rdflib would fetch it)."""
    path = tmp_path / "x.jsonld"
    path.write_text(f'{{"@context": "file://{secret}", "@id": "http://x/a", "label": "y"}}')
    one_line_error(
        medunlearn("ontology", "build", path, "-o", tmp_path / "g"),
        f"{path}: remote JSON-LD contexts are refused",
    )
    done = medunlearn("ontology", "validate", path)
    assert done.returncode == 1 and done.stdout.startswith("error: xml_entity:"), done.stderr


@pytest.mark.parametrize("engine", ["oxigraph", "rdflib"])
def test_every_rdf_engine_is_behind_the_check(tmp_path: Path, engine: str) -> None:
    from ontology.readers.rdf import read_rdf

    name, _, _, body = DOCUMENTS["rdfxml"]
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY x "lol">]>\n{body}\n')
    with pytest.raises(EntityRefused, match="x.owl:2: XML entity declarations"):
        read_rdf(path, format="rdfxml", engine=engine)
    ctx = tmp_path / "c.jsonld"
    ctx.write_text('[{"@context": ["https://schema.invalid/ctx", {"a": "http://x/a"}], "@id": "http://x/b"}]')
    with pytest.raises(EntityRefused, match="remote JSON-LD contexts"):
        read_rdf(ctx, format="json-ld", engine=engine)


def test_a_graphml_import_is_behind_the_check(tmp_path: Path) -> None:
    from ontology.store import import_graph

    path = tmp_path / "g.graphml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE graphml [<!ENTITY x "lol">]>\n<graphml/>\n')
    with pytest.raises(EntityRefused, match="g.graphml:2"):
        import_graph(path, "graphml")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mesh-xml", "icd10cm", "owl", "obo"])
def test_a_directory_where_a_file_is_expected(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "d").mkdir()
    one_line_error(
        medunlearn("ontology", "build", tmp_path / "d", "--format", fmt, "-o", tmp_path / "g"),
        f"{tmp_path / 'd'}: is a directory, expected a file",
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "fmt", "text"),
    [
        (
            "long.ttl",
            "ttl",
            '@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n<http://x/A> rdfs:label "{}" .\n',
        ),
        ("long.nt", "nt", '<http://x/A> <http://www.w3.org/2000/01/rdf-schema#label> "{}" .\n'),
    ],
)
def test_a_long_line_in_other_rdf_syntaxes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, fmt: str, text: str
) -> None:
    """Turtle and N-Triples parsers hold a line whole too: the same limit, before parsing."""
    path = tmp_path / name
    path.write_text(text.format("a" * 2000))
    line = text.count("\n")
    monkeypatch.setenv("MEDUNLEARN_MAX_LINE_BYTES", "1000")
    one_line_error(
        medunlearn("ontology", "build", path, "--format", fmt, "-o", tmp_path / "g"),
        f"{path}:{line}: line longer than 1,000 bytes (the limit; MEDUNLEARN_MAX_LINE_BYTES raises it)",
    )
    assert not (tmp_path / "g").exists()
