"""Levels, scopes and roles on real ontologies: MeSH 2017, Disease Ontology, ICD-10-CM 2026.

Every expected figure is computed here, independently, from the raw files with a few lines of csv.
"""

from __future__ import annotations

import csv
from collections import defaultdict, deque
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from hierarchy.levels import Hierarchy, build_hierarchy
from hierarchy.masks import PRESERVE, TARGET
from hierarchy.roles import assign_roles
from hierarchy.scope import Scope
from ontology.readers.mesh_tree import read_mesh_tree
from ontology.readers.tabular import read_tabular


@pytest.fixture(scope="module")
def mesh_raw(shared_data: Path) -> dict[str, list[str]]:
    """Descriptor UI → its tree numbers, straight from the NLM file."""
    numbers: dict[str, list[str]] = defaultdict(list)
    with open(shared_data / "mesh/raw/2017MeshTree.txt", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            numbers[row["Desc Ui"]].append(row["Tree Number"])
    return numbers


@pytest.fixture(scope="module")
def mesh_hier(shared_data: Path) -> Hierarchy:
    return build_hierarchy(read_mesh_tree(shared_data / "mesh/raw/2017MeshTree.txt"))


def expected_mesh_level(tree_numbers: list[str]) -> int:
    return min(min(len(t.split(".")) + 1, 4) for t in tree_numbers)


def test_mesh_levels_match_tree_numbers(mesh_hier: Hierarchy, mesh_raw: dict[str, list[str]]) -> None:
    expected = {f"MESH:{ui}": expected_mesh_level(tns) for ui, tns in mesh_raw.items()}
    got = {cid: lv for cid, lv in mesh_hier.levels.items() if cid.startswith("MESH:")}
    assert got == expected
    letters = {t[0] for tns in mesh_raw.values() for t in tns}
    counts = {k: sum(1 for v in expected.values() if v == k) for k in (2, 3, 4)}
    stats = mesh_hier.stats()
    assert (stats["L1"], stats["L2"], stats["L3"], stats["L4"]) == (
        len(letters),
        counts[2],
        counts[3],
        counts[4],
    )
    assert stats["unleveled"] == 0


def test_f03_subtree_levels_against_depth_column(
    shared_data: Path, mesh_hier: Hierarchy, mesh_raw: dict[str, list[str]]
) -> None:
    """Descriptors placed only inside F03 have level = depth below F03 + 2 (F03 itself is L2), capped at 4."""
    depths: dict[str, list[int]] = defaultdict(list)
    with open(shared_data / "mesh/mesh2017_F03_mental_disorders.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            depths[row["descriptor_ui"]].append(int(row["depth"]))
    only_f03 = [ui for ui in depths if all(t.startswith("F03") for t in mesh_raw[ui])]
    assert len(only_f03) > 100
    for ui in only_f03:
        assert mesh_hier.level(f"MESH:{ui}") == min(min(depths[ui]) + 2, 4), ui
    anxiety = mesh_hier.path("MESH:D001008")
    assert anxiety == ["MESHTREE:F", "MESH:D001523", "MESH:D001008"]
    assert mesh_hier.label(anxiety[0]) == "Psychiatry and Psychology"


def subtree_uis(mesh_raw: dict[str, list[str]], prefix: str) -> set[str]:
    """UIs under a tree position, closed over every position of each member (the DAG's descendants)."""
    members = {
        ui for ui, tns in mesh_raw.items() if any(t == prefix or t.startswith(prefix + ".") for t in tns)
    }
    while True:
        positions = {t for ui in members for t in mesh_raw[ui]}
        grown = {ui for ui, tns in mesh_raw.items() if any(t.rpartition(".")[0] in positions for t in tns)}
        if grown <= members:
            return members
        members |= grown


@pytest.mark.parametrize("item", ["F03.080", "E04"])
def test_real_scope_and_roles(mesh_hier: Hierarchy, mesh_raw: dict[str, list[str]], item: str) -> None:
    expected = {f"MESH:{ui}" for ui in subtree_uis(mesh_raw, item)}
    scope = Scope.parse([item], mesh_hier)
    assert scope.concepts == expected
    roles = assign_roles(mesh_hier, scope)
    targets = {c for c, r in roles.items() if r.role == TARGET}
    levels = {f"MESH:{ui}": expected_mesh_level(tns) for ui, tns in mesh_raw.items()}
    assert targets == {c for c in expected if levels[c] >= 3}
    root = scope.root_ids[0]
    assert roles[root].role == (PRESERVE if levels[root] <= 2 else TARGET)
    assert sum(r.role == PRESERVE for r in roles.values()) == len(mesh_hier) - len(targets)


def test_scope_by_label_on_real_mesh(mesh_hier: Hierarchy) -> None:
    assert Scope.parse(["anxiety disorders"], mesh_hier).root_ids == ["MESH:D001008"]
    assert Scope.parse("Surgical Procedures, Operative", mesh_hier).root_ids == ["MESH:D013514"]
    with pytest.raises(Exception, match="did you mean 'Anxiety Disorders'"):
        Scope.parse(["Anxiety Disorderz"], mesh_hier)


def test_disease_ontology_depth_levels(shared_data: Path) -> None:
    path = shared_data / "disease_ontology/HumanDO.tsv"
    parents: dict[str, set[str]] = defaultdict(set)
    by_label: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for row in rows:
        by_label[row["label"]] = row["id"]
    for row in rows:
        parents[row["id"]]  # every id is a node
        if row["subClassOf"] in by_label:
            parents[row["id"]].add(by_label[row["subClassOf"]])
    children: dict[str, set[str]] = defaultdict(set)
    for cid, ps in parents.items():
        for p in ps:
            children[p].add(cid)
    depth = {cid: 0 for cid, ps in parents.items() if not ps}
    queue = deque(depth)
    while queue:
        node = queue.popleft()
        for kid in children[node]:
            if kid not in depth:
                depth[kid] = depth[node] + 1
                queue.append(kid)
    hier = build_hierarchy(read_tabular(path))
    assert hier.levels == {cid: min(d + 1, 4) for cid, d in depth.items()}
    assert (
        hier.level("DOID:150") == 1 and hier.level("DOID:2030") == 3
    )  # mental health domain; anxiety disorder
    folded = build_hierarchy(read_tabular(path), depth_starts_by_source={"DOID": (1, 2, 3, 4)})
    assert folded.levels == {cid: max(1, min(d, 4)) for cid, d in depth.items()}


@pytest.mark.slow  # the whole ICD-10-CM release
def test_icd10cm_kinds_from_the_real_release() -> None:
    simple = pytest.importorskip("simple_icd_10_cm")
    from ontology.readers.icd10cm import read_icd10cm

    xml = next((Path(simple.__file__).parent / "data").glob("icd10c*-tabular-*.xml"))
    root = ET.parse(xml).getroot()
    chapters = root.findall("chapter")
    sections = [s for c in chapters for s in c.findall("section")]
    categories = [d for s in sections for d in s.findall("diag")]
    codes = sum(len(c.findall(".//diag")) for c in categories)
    hier = build_hierarchy(read_icd10cm(xml))
    stats = hier.stats()
    assert (stats["L1"], stats["L2"], stats["L3"], stats["L4"]) == (
        len(chapters),
        len(sections),
        len(categories),
        codes,
    )
    assert [hier.label(c) for c in hier.path("ICD10CM:F41.1")][2:] == [
        "Other anxiety disorders",
        "Generalized anxiety disorder",
    ]
    assert [hier.level(c) for c in hier.path("ICD10CM:F41.1")] == [1, 2, 3, 4]
