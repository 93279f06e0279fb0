"""Levels on small hand-made graphs: every expected level and path is written by hand."""

from __future__ import annotations

import pytest

from hierarchy.levels import HierarchyConfig, build_hierarchy
from hierarchy.rules import depth_level, mesh_level, mesh_position, read_mapping, rule_for
from hierarchy.store import open_hierarchy, read_hierarchy, source_hash, write_hierarchy
from ontology.common.errors import InputError
from ontology.graph import ConceptGraph


def graph(nodes: dict[str, dict], edges: list[tuple[str, str]]) -> ConceptGraph:
    cg = ConceptGraph()
    for cid, attrs in nodes.items():
        attrs = dict(attrs)
        cg.add_concept(cid, attrs.pop("label", cid.lower()), **attrs)
    for child, parent in edges:
        cg.add_parent(child, parent)
    return cg


@pytest.fixture
def chain() -> ConceptGraph:
    # R ← A ← B ← C ← D, and C also directly under R (two positions: depth 1 and depth 3)
    return graph(
        {k: {} for k in ["X:R", "X:A", "X:B", "X:C", "X:D"]},
        [("X:A", "X:R"), ("X:B", "X:A"), ("X:C", "X:B"), ("X:C", "X:R"), ("X:D", "X:C")],
    )


def test_depth_rule_shallowest(chain: ConceptGraph) -> None:
    h = build_hierarchy(chain)
    assert h.levels == {"X:R": 1, "X:A": 2, "X:B": 3, "X:C": 2, "X:D": 3}
    assert h.path("X:C") == ["X:R", "X:C"]
    assert h.path("X:D") == ["X:R", "X:C", "X:D"]
    assert set(h.rules.values()) == {"depth"}


def test_depth_rule_deepest(chain: ConceptGraph) -> None:
    h = build_hierarchy(chain, multi_parent="deepest")
    assert h.levels == {"X:R": 1, "X:A": 2, "X:B": 3, "X:C": 4, "X:D": 4}
    assert h.path("X:D") == ["X:R", "X:A", "X:B", "X:C", "X:D"]


def test_depth_starts_fold_generic_root(chain: ConceptGraph) -> None:
    h = build_hierarchy(chain, depth_starts=(1, 2, 3, 4))
    assert h.levels == {"X:R": 1, "X:A": 1, "X:B": 2, "X:C": 1, "X:D": 2}
    by_source = build_hierarchy(chain, depth_starts_by_source={"Y": (1, 2, 3, 4)})
    assert by_source.levels == build_hierarchy(chain).levels  # no node has source Y


def test_depth_level_table() -> None:
    assert [depth_level(d, (0, 1, 2, 3)) for d in range(6)] == [1, 2, 3, 4, 4, 4]
    assert [depth_level(d, (0, 2, 4, 6)) for d in range(8)] == [1, 1, 2, 2, 3, 3, 4, 4]


def test_unleveled_reasons() -> None:
    cg = graph(
        {
            "X:R": {},
            "X:old": {"obsolete": True},
            "X:nolabel": {"label": ""},
            "X:c1": {},
            "X:c2": {},
            "X:below_cycle": {},
        },
        [
            ("X:old", "X:R"),
            ("X:nolabel", "X:R"),
            ("X:c1", "X:c2"),
            ("X:c2", "X:c1"),
            ("X:below_cycle", "X:c1"),
        ],
    )
    h = build_hierarchy(cg)
    assert h.levels == {"X:R": 1, "X:old": 0, "X:nolabel": 0, "X:c1": 0, "X:c2": 0, "X:below_cycle": 0}
    assert h.reason("X:old") == "obsolete"
    assert h.reason("X:nolabel") == "no label"
    assert h.reason("X:c1") == h.reason("X:c2") == "on an is_a cycle"
    assert h.reason("X:below_cycle") == "reachable only through an is_a cycle"
    assert h.reason("X:R") == ""
    stats = h.stats()
    assert (stats["L1"], stats["unleveled"]) == (1, 5)
    assert stats["unleveled_reasons"] == {
        "on an is_a cycle": 2,
        "obsolete": 1,
        "no label": 1,
        "reachable only through an is_a cycle": 1,
    }


def test_configured_roots() -> None:
    cg = graph({k: {} for k in ["X:R1", "X:R2", "X:a", "X:b"]}, [("X:a", "X:R1"), ("X:b", "X:R2")])
    h = build_hierarchy(cg, roots=["X:R1"])
    assert h.levels == {"X:R1": 1, "X:a": 2, "X:R2": 0, "X:b": 0}
    assert h.reason("X:b") == "not under any configured root"
    with pytest.raises(InputError, match="root 'X:nope' is not in the graph"):
        build_hierarchy(cg, roots=["X:nope"])


def test_api_for_unknown_ids(chain: ConceptGraph) -> None:
    h = build_hierarchy(chain)
    assert (
        h.level("X:unknown") == 0
        and h.path("X:unknown") == []
        and h.reason("X:unknown") == "not in the graph"
    )
    assert h.at_level(2) == ["X:A", "X:C"]
    assert len(h) == 5 and "X:R" in h


@pytest.fixture
def mesh() -> ConceptGraph:
    m = {"source": "MESH"}
    return graph(
        {
            "MESHTREE:F": {**m, "label": "Psychiatry and Psychology", "tree_numbers": ["F"]},
            "MESH:D001523": {**m, "label": "Mental Disorders", "tree_numbers": ["F03"]},
            "MESH:D001008": {**m, "label": "Anxiety Disorders", "tree_numbers": ["F03.080"]},
            "MESH:D016584": {**m, "label": "Panic Disorder", "tree_numbers": ["F03.080.725"]},
            "MESH:D999901": {**m, "label": "Deep One", "tree_numbers": ["F03.080.725.100"]},
            "MESH:D011581": {**m, "label": "Psychology", "tree_numbers": ["F01"]},
            # two positions: F03.080.500 (L4) and F01.100 (L3)
            "MESH:D999902": {**m, "label": "Two Places", "tree_numbers": ["F03.080.500", "F01.100"]},
            "MESH:D999903": {**m, "label": "No Tree Number"},
        },
        [
            ("MESH:D001523", "MESHTREE:F"),
            ("MESH:D011581", "MESHTREE:F"),
            ("MESH:D001008", "MESH:D001523"),
            ("MESH:D016584", "MESH:D001008"),
            ("MESH:D999901", "MESH:D016584"),
            ("MESH:D999902", "MESH:D001008"),
            ("MESH:D999902", "MESH:D011581"),
        ],
    )


def test_mesh_rule(mesh: ConceptGraph) -> None:
    h = build_hierarchy(mesh)
    assert h.levels == {
        "MESHTREE:F": 1,
        "MESH:D001523": 2,
        "MESH:D001008": 3,
        "MESH:D016584": 4,
        "MESH:D999901": 4,
        "MESH:D011581": 2,
        "MESH:D999902": 3,
        "MESH:D999903": 0,
    }
    assert h.reason("MESH:D999903") == "no MeSH tree number"
    assert h.path("MESH:D016584") == ["MESHTREE:F", "MESH:D001523", "MESH:D001008", "MESH:D016584"]
    assert h.path("MESH:D999902") == ["MESHTREE:F", "MESH:D011581", "MESH:D999902"]
    deep = build_hierarchy(mesh, multi_parent="deepest")
    assert deep.level("MESH:D999902") == 4
    assert deep.path("MESH:D999902") == ["MESHTREE:F", "MESH:D001523", "MESH:D001008", "MESH:D999902"]


def test_mesh_forced_depth_rule_differs(mesh: ConceptGraph) -> None:
    h = build_hierarchy(mesh, rule="depth")
    assert h.level("MESH:D999903") == 1  # an isolated node is its own root under the depth rule
    assert h.level("MESH:D999902") == 3 and h.rules["MESH:D001008"] == "depth"


def test_mesh_helpers() -> None:
    assert [mesh_level(t) for t in ["E", "E04", "E04.210", "E04.210.100", "E04.210.100.200"]] == [
        1,
        2,
        3,
        4,
        4,
    ]
    index = {"E": "MESHTREE:E", "E04": "MESH:D013514"}
    assert mesh_position("E04.210", index) == ["MESHTREE:E", "MESH:D013514"]  # missing positions are skipped


def icd_graph() -> ConceptGraph:
    i = {"source": "ICD10CM"}
    return graph(
        {
            "ICD10CM:F01-F99": {
                **i,
                "label": "Mental, Behavioral and Neurodevelopmental disorders",
                "kind": "chapter",
            },
            "ICD10CM:F40-F48": {
                **i,
                "label": "Anxiety, dissociative, stress-related disorders",
                "kind": "section",
            },
            "ICD10CM:F41": {**i, "label": "Other anxiety disorders", "kind": "category"},
            "ICD10CM:F41.1": {**i, "label": "Generalized anxiety disorder", "kind": "code"},
            "ICD10CM:F43.1": {**i, "label": "Post-traumatic stress disorder (PTSD)", "kind": "subcategory"},
            "ICD10CM:F43.10": {**i, "label": "Post-traumatic stress disorder, unspecified", "kind": "code"},
            "ICD10CM:F43": {**i, "label": "Reaction to severe stress", "kind": "category"},
            "ICD10CM:X": {**i, "label": "odd node", "kind": "weird"},
        },
        [
            ("ICD10CM:F40-F48", "ICD10CM:F01-F99"),
            ("ICD10CM:F41", "ICD10CM:F40-F48"),
            ("ICD10CM:F41.1", "ICD10CM:F41"),
            ("ICD10CM:F43", "ICD10CM:F40-F48"),
            ("ICD10CM:F43.1", "ICD10CM:F43"),
            ("ICD10CM:F43.10", "ICD10CM:F43.1"),
            ("ICD10CM:X", "ICD10CM:F41"),
        ],
    )


def test_icd10cm_rule() -> None:
    h = build_hierarchy(icd_graph())
    assert h.levels == {
        "ICD10CM:F01-F99": 1,
        "ICD10CM:F40-F48": 2,
        "ICD10CM:F41": 3,
        "ICD10CM:F41.1": 4,
        "ICD10CM:F43": 3,
        "ICD10CM:F43.1": 4,
        "ICD10CM:F43.10": 4,
        "ICD10CM:X": 4,  # auto: an unknown kind falls back to the depth rule (depth 3)
    }
    assert h.rules["ICD10CM:F41"] == "icd10cm" and h.rules["ICD10CM:X"] == "depth"
    assert h.path("ICD10CM:F43.10") == [
        "ICD10CM:F01-F99",
        "ICD10CM:F40-F48",
        "ICD10CM:F43",
        "ICD10CM:F43.1",
        "ICD10CM:F43.10",
    ]
    forced = build_hierarchy(icd_graph(), rule="icd10cm")
    assert forced.level("ICD10CM:X") == 0 and forced.reason("ICD10CM:X") == "unknown ICD-10-CM kind 'weird'"


def test_rule_for_auto() -> None:
    assert rule_for("MESHTREE:F", {"source": "MESH"}) == "mesh"
    assert rule_for("ICD10CM:F41", {"source": "ICD10CM", "kind": "category"}) == "icd10cm"
    assert rule_for("HP:0000118", {"source": "HP"}) == "depth"


def test_mapping_overrides_and_rule(chain: ConceptGraph, tmp_path) -> None:
    h = build_hierarchy(chain, mapping={"X:D": 2, "X:B": 0})
    assert (h.level("X:D"), h.level("X:B"), h.level("X:A")) == (2, 0, 2)
    assert h.rules["X:D"] == "mapping" and h.reason("X:B") == "mapped to level 0"
    assert h.options["mapping_hash"] != build_hierarchy(chain, mapping={"X:D": 3}).options["mapping_hash"]
    f = tmp_path / "map.tsv"
    f.write_text("id\tlevel\nX:R\t1\nX:C\t3\n", encoding="utf-8")
    only = build_hierarchy(chain, rule="mapping", mapping=f)
    assert only.levels == {"X:R": 1, "X:C": 3, "X:A": 0, "X:B": 0, "X:D": 0}
    assert only.reason("X:A") == "not in the mapping table"
    assert only.options["mapping"] == str(f)


def test_mapping_errors(chain: ConceptGraph, tmp_path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("id,level\nX:R,1\nX:A,five\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.csv:3: level of 'X:A' must be an integer 0-4"):
        read_mapping(f)
    f.write_text("X:R,1\nX:zzz,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not in the graph, e.g. X:zzz"):
        build_hierarchy(chain, mapping=f)
    with pytest.raises(InputError, match="needs a mapping table"):
        build_hierarchy(chain, rule="mapping")
    with pytest.raises(InputError, match="mapping file not found"):
        read_mapping(tmp_path / "missing.tsv")


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        HierarchyConfig(depth_starts=(2, 1, 3, 4))
    with pytest.raises(ValueError):
        HierarchyConfig(rule="nope")


def test_store_roundtrip(mesh: ConceptGraph, tmp_path) -> None:
    h = build_hierarchy(mesh)
    out = write_hierarchy(h, tmp_path / "HIER")
    assert sorted(p.name for p in out.iterdir()) == ["graph", "levels.parquet", "meta.json"]
    back = read_hierarchy(out)
    assert back.levels == h.levels and back.paths == h.paths and back.reasons == h.reasons
    assert back.rules == h.rules and back.options == h.options
    assert back.graph.label("MESH:D001008") == "Anxiety Disorders"
    with pytest.raises(InputError, match="not a hierarchy directory"):
        read_hierarchy(tmp_path)


def test_open_hierarchy_takes_every_form_of_the_argument(mesh: ConceptGraph, tmp_path) -> None:
    from ontology.store import write_graph

    h = build_hierarchy(mesh)
    write_hierarchy(h, tmp_path / "HIER")
    write_graph(mesh, tmp_path / "GRAPH")
    assert open_hierarchy(h) is h
    for source in (mesh, tmp_path / "HIER", tmp_path / "GRAPH", str(tmp_path / "GRAPH")):
        assert open_hierarchy(source).levels == h.levels
    assert source_hash(tmp_path / "HIER") != source_hash(tmp_path / "GRAPH")
    with pytest.raises(InputError, match="not a hierarchy directory .*, graph directory or ontology file"):
        open_hierarchy(tmp_path)
