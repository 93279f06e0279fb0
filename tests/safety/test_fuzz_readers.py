"""Property: every ontology and corpus reader, fed random bytes or a mutated valid file, returns or raises one
clear line (:class:`~ontology.common.errors.MedunlearnError`); never another exception, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given

from ontology.loader import load
from tests.safety.fuzzing import FUZZ, hostile, only_clean_errors, write

FIX = Path(__file__).resolve().parents[1] / "ontology" / "fixtures"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

#: format -> (file name, a small valid file)
VALID: dict[str, tuple[str, bytes]] = {
    "owl": ("x.owl", (FIX / "owl" / "fixture.owl").read_bytes()),
    "owlxml": ("x.owx", (FIX / "owl" / "fixture.owx").read_bytes()),
    "ttl": ("x.ttl", (FIX / "owl" / "fixture.ttl").read_bytes()),
    "nt": ("x.nt", b"<http://x/a> <http://www.w3.org/2000/01/rdf-schema#subClassOf> <http://x/b> .\n"
           b'<http://x/a> <http://www.w3.org/2000/01/rdf-schema#label> "a"@en .\n'),
    "jsonld": ("x.jsonld", b'[{"@id": "http://x/a", "http://www.w3.org/2000/01/rdf-schema#label": "a", '
               b'"http://www.w3.org/2000/01/rdf-schema#subClassOf": {"@id": "http://x/b"}}]'),
    "obo": ("x.obo", (FIX / "obo" / "small.obo").read_bytes()),
    "mesh-tree": ("tree.txt", b"Tree Number\tDesc Ui\tTerm\nF03\tD001523\tMental Disorders\n"
                  b"F03.080\tD001008\tAnxiety Disorders\n"),
    "mesh-csv": ("m.csv", b"id,scheme,subject\nhttps://id.nlm.nih.gov/mesh/D000001,MeSH,Calcimycin\n"),
    "mesh-xml": ("desc.xml", (FIX / "desc_small.xml").read_bytes()),
    "tsv": ("t.tsv", b'id\tlabel\tsubClassOf\n"X:1"\t"a"\t""\n"X:2"\t"b"\t"a"\n'),
    "icd10cm": ("icd.xml", b"<?xml version='1.0'?>\n<ICD10CM.tabular><version>2026</version><chapter><name>1</name>"
                b"<desc>Infections</desc><section id='A00-A09'><desc>Intestinal</desc><diag><name>A00</name>"
                b"<desc>Cholera</desc><diag><name>A00.0</name><desc>Classical</desc></diag></diag></section>"
                b"</chapter></ICD10CM.tabular>\n"),
}  # fmt: skip
FORMAT = {"owlxml": "owl"}


@pytest.mark.parametrize("fmt", list(VALID))
def test_ontology_readers_never_crash(tmp_path: Path, fmt: str) -> None:
    name, valid = VALID[fmt]
    assert len(load(write(tmp_path / "valid" / name, valid), format=FORMAT.get(fmt, fmt))) > 0

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        path = write(tmp_path / name, data)
        only_clean_errors(lambda: load(path, format=FORMAT.get(fmt, fmt)))
        only_clean_errors(lambda: load(path, format=FORMAT.get(fmt, fmt), strict=True))
        only_clean_errors(lambda: load(path))  # and the format detection

    check()


def test_umls_reader_never_crashes(tmp_path: Path) -> None:
    valid = (FIX / "umls" / "MRCONSO.RRF").read_bytes()
    meta = tmp_path / "META"
    for f in (FIX / "umls").iterdir():
        write(meta / f.name, f.read_bytes())

    @FUZZ
    @given(data=hostile(valid), rel=hostile((FIX / "umls" / "MRREL.RRF").read_bytes()))
    def check(data: bytes, rel: bytes) -> None:
        write(meta / "MRCONSO.RRF", data)
        write(meta / "MRREL.RRF", rel)
        only_clean_errors(lambda: load(meta, format="umls"))

    check()


def test_pubtator_synonym_source_never_crashes(tmp_path: Path) -> None:
    graph = write(tmp_path / "g.obo", b"[Term]\nid: MESH:D007674\nname: Kidney Diseases\n")
    valid = b"7|t|Kidney disease and nephropathy.\n7|a|Renal failure.\n7\t0\t14\tKidney disease\tDisease\tD007674\n\n"

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        path = write(tmp_path / "c.pubtator", data)
        only_clean_errors(lambda: load(graph, synonyms=[path], format="obo"))

    check()


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("c.jsonl", b'{"doc_id": "1", "text": "heart disease"}\n{"doc_id": "2", "text": "valve"}\n'),
        ("c.json", b'[{"id": 1, "text": "heart disease"}, {"id": 2, "text": "valve"}]'),
        ("c.csv", b'id,text\n1,"heart disease"\n2,valve\n'),
    ],
)
def test_corpus_readers_never_crash(tmp_path: Path, name: str, valid: bytes) -> None:
    from hierarchy.corpus import iter_documents

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        path = write(tmp_path / name, data)
        only_clean_errors(lambda: list(iter_documents(path, ["text"])))

    check()


def test_corpus_parquet_never_crashes(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hierarchy.corpus import iter_documents

    pq.write_table(pa.table({"id": ["1", "2"], "text": ["heart disease", "valve"]}), tmp_path / "v.parquet")
    valid = (tmp_path / "v.parquet").read_bytes()

    @FUZZ
    @given(data=hostile(valid))
    def check(data: bytes) -> None:
        path = write(tmp_path / "c.parquet", data)
        only_clean_errors(lambda: list(iter_documents(path, ["text"])))

    check()
