"""A duplicate id -- one id defined twice with different content -- in every reader that can meet one:
``ontology build --strict`` fails with one line naming the file and the line or key (exit 2), ``ontology
validate`` lists it as ``duplicate_id`` (exit 1). A fact stated twice (a repeated triple, a descriptor at two
tree positions, an atom row that is not a preferred name) is no duplicate. OBO and tables:
``tests/safety/test_corrupt.py`` and ``tests/ontology/test_readers_tabular.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.safety.console import medunlearn, one_line_error

pytestmark = pytest.mark.slow  # console-script processes

RDF = (
    '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#" xmlns:owl="http://www.w3.org/2002/07/owl#">\n'
    '<owl:Class rdf:about="http://purl.obolibrary.org/obo/X_1"><rdfs:label>heart disease</rdfs:label></owl:Class>\n'
    '<owl:Class rdf:about="http://purl.obolibrary.org/obo/X_1">{second}</owl:Class>\n</rdf:RDF>\n'
)
OWX_LABEL = (
    '<AnnotationAssertion><AnnotationProperty IRI="http://www.w3.org/2000/01/rdf-schema#label"/>'
    "<IRI>http://purl.obolibrary.org/obo/X_1</IRI><Literal{lang}>{label}</Literal></AnnotationAssertion>\n"
)
OWX = (
    '<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://x/o">\n'
    '<Declaration><Class IRI="http://purl.obolibrary.org/obo/X_1"/></Declaration>\n'
    + OWX_LABEL.format(lang="", label="heart disease")
    + '<Declaration><Class IRI="http://purl.obolibrary.org/obo/X_1"/></Declaration>\n{second}</Ontology>\n'
)
TTL = (
    "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
    '<http://purl.obolibrary.org/obo/X_1> a owl:Class ; rdfs:label "heart disease"@en .\n'
    "<http://purl.obolibrary.org/obo/X_1> a owl:Class ; {second} .\n"
)
MESH_RECORD = (
    "<DescriptorRecord><DescriptorUI>{ui}</DescriptorUI><DescriptorName><String>{name}</String></DescriptorName>"
    "<TreeNumberList><TreeNumber>{tree}</TreeNumber></TreeNumberList></DescriptorRecord>\n"
)
MESH_XML = (
    '<?xml version="1.0"?>\n<DescriptorRecordSet>\n'
    + MESH_RECORD.format(ui="D006331", name="Heart Diseases", tree="C14.280")
    + "{second}</DescriptorRecordSet>\n"
)
CONSO = "C0018799|ENG|{ts}|L0018799|PF|S0046930|Y|A0066369||M0009964|D006331|MSH|MH|D006331|{name}|0|N||\n"
ICD = (
    '<?xml version="1.0"?>\n<ICD10CM.tabular><version>2026</version>\n<chapter><name>9</name>'
    "<desc>Diseases of the circulatory system (I00-I99)</desc>\n"
    '<section id="I30-I5A"><desc>Other forms of heart disease (I30-I5A)</desc>\n'
    "<diag><name>I34</name><desc>Nonrheumatic mitral valve disorders</desc></diag>\n"
    "<diag><name>{code}</name><desc>Mitral valve disease</desc></diag>\n</section></chapter></ICD10CM.tabular>\n"
)
OBOGRAPHS = (
    '{{"graphs": [{{"nodes": [{{"id": "http://purl.obolibrary.org/obo/X_1", "lbl": "heart disease"}},\n'
    '{{"id": "http://purl.obolibrary.org/obo/X_1"{second}}}]}}]}}\n'
)

#: reader -> (file, --format, the file with a duplicate id, the same file stating a fact twice, the strict line)
CASES = {
    "rdfxml": (
        "x.owl", "owl",
        RDF.format(second="<rdfs:label>cardiac disease</rdfs:label>"),
        RDF.format(second='<rdfs:label>heart disease</rdfs:label><rdfs:label xml:lang="fr">cardiopathie</rdfs:label>'),
        "{path}: duplicate id X:1: two untagged rdfs:label values, 'heart disease' and 'cardiac disease'",
    ),
    "owlxml": (
        "x.owx", "owl",
        OWX.format(second=OWX_LABEL.format(lang="", label="cardiac disease")),
        OWX.format(second=OWX_LABEL.format(lang=' xml:lang="fr"', label="cardiopathie")),
        "{path}: duplicate id X:1: two untagged rdfs:label values",
    ),
    "turtle": (
        "x.ttl", "ttl",
        TTL.format(second='rdfs:label "cardiac disease"@en'),
        TTL.format(second='rdfs:label "heart disease"@en, "cardiopathie"@fr'),
        "{path}: duplicate id X:1: two @en rdfs:label values",
    ),
    "obographs": (
        "x.json", "obographs",
        OBOGRAPHS.format(second=', "lbl": "cardiac disease"'),
        OBOGRAPHS.format(second=""),
        "{path}: duplicate id X:1: two labels, 'heart disease' and 'cardiac disease'",
    ),
    "mesh-xml": (
        "desc.xml", "mesh-xml",
        MESH_XML.format(second=MESH_RECORD.format(ui="D006331", name="Heart Disorders", tree="C14.281")),
        MESH_XML.format(second=MESH_RECORD.format(ui="D006349", name="Heart Valve Diseases", tree="C14.280.484")),
        "{path}: duplicate id MESH:D006331: DescriptorRecord #2 repeats #1",
    ),
    "mesh-tree": (
        "MeshTree.txt", "mesh-tree",
        "Tree Number\tDesc Ui\tTerm\nC14\tD002318\tCardiovascular Diseases\nC14.280\tD006331\tHeart Diseases\n"
        "C14.907\tD006331\tHeart Disorders\n",
        "Tree Number\tDesc Ui\tTerm\nC14\tD002318\tCardiovascular Diseases\nC14.280\tD006331\tHeart Diseases\n"
        "C14.907\tD006331\tHeart Diseases\n",
        "{path}:4: duplicate id MESH:D006331: two headings",
    ),
    "mesh-csv": (
        "mesh.csv", "mesh-csv",
        "id,scheme,subject\nhttp://id.nlm.nih.gov/mesh/D006331,MeSH,Heart Diseases\n"
        "http://id.nlm.nih.gov/mesh/D006331,MeSH,Heart Disorders\n",
        "id,scheme,subject\nhttp://id.nlm.nih.gov/mesh/D006331,MeSH,Heart Diseases\n"
        "http://id.nlm.nih.gov/mesh/D006331,MeSH,Heart Diseases\n",
        "{path}:3: duplicate id MESH:D006331: two labels",
    ),
    "umls": (
        "META/MRCONSO.RRF", "umls",
        CONSO.format(ts="P", name="Heart Diseases") + CONSO.format(ts="P", name="Heart disorder"),
        CONSO.format(ts="P", name="Heart Diseases") + CONSO.format(ts="S", name="Heart disorder"),
        "{path}:2: duplicate id UMLS:C0018799: two preferred ENG names, 'Heart Diseases' and 'Heart disorder'",
    ),
    "icd10cm": (
        "icd.xml", "icd10cm",
        ICD.format(code="I34"),
        ICD.format(code="I35"),
        "{path}: duplicate id ICD10CM:I34: a second <diag>",
    ),
}  # fmt: skip


def _source(tmp_path: Path, fmt: str, text: str) -> tuple[Path, Path]:
    """(the file written, the source to name on the command line: a UMLS META directory, else the file)."""
    path = tmp_path / CASES[fmt][0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, path.parent if fmt == "umls" else path


@pytest.mark.parametrize("fmt", list(CASES))
def test_a_duplicate_id_fails_strict_and_validate_lists_it(tmp_path: Path, fmt: str) -> None:
    _, cli_format, duplicated, _, expected = CASES[fmt]
    path, source = _source(tmp_path, fmt, duplicated)
    one_line_error(
        medunlearn("ontology", "build", source, "--format", cli_format, "--strict", "-o", tmp_path / "g"),
        expected.format(path=path),
    )
    assert not (tmp_path / "g").exists()
    checked = medunlearn("ontology", "validate", source, "--format", cli_format)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"error: duplicate_id: {expected.format(path=path)}" in checked.stdout, checked.stdout


@pytest.mark.parametrize("fmt", list(CASES))
def test_a_fact_stated_twice_is_no_duplicate(tmp_path: Path, fmt: str) -> None:
    _, cli_format, _, repeated, _ = CASES[fmt]
    _, source = _source(tmp_path, fmt, repeated)
    built = medunlearn("ontology", "build", source, "--format", cli_format, "--strict", "-o", tmp_path / "g")
    assert built.returncode == 0, built.stderr
    checked = medunlearn("ontology", "validate", source, "--format", cli_format)
    assert "duplicate_id" not in checked.stdout and checked.returncode == 0, checked.stdout + checked.stderr
