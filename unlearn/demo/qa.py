"""General medical multiple-choice items about the upper levels (L1–L3) of the demo ontology.

They measure the general knowledge that unlearning must keep: which domain a category belongs to,
which category a concept falls under, which concept a category holds, and which term a definition
describes. Items about the L3 concepts inside a forget scope are included on purpose: the method
forgets the specific (L4) facts of a scope, not the existence of its categories.
"""

from __future__ import annotations

import random

from unlearn.demo.ontology_spec import SpecConcept, by_id, children_of, concepts, subtree_ids
from unlearn.demo.records import DEFAULT_SEED


def _item(
    kind: str,
    level: int,
    question: str,
    answer: SpecConcept,
    distractors: list[SpecConcept],
    about: list[str],
    rng: random.Random,
) -> dict:
    options = [answer, *distractors]
    rng.shuffle(options)
    return {
        "kind": kind,
        "level": level,
        "question": question,
        "options": [o.label for o in options],
        "answer": options.index(answer),
        "concept_ids": about,
    }


def generate(seed: int = DEFAULT_SEED, scopes: dict[str, str] | None = None) -> list[dict]:
    """All QA items, numbered ``qa-001``…; ``scopes`` names the scopes touching an item's concepts.

    Four kinds: ``domain`` (L2 → its L1), ``member`` (L2 → one of its L3 children), ``category``
    (L3 → its L2) and ``definition`` (definition → L1/L2 concept).
    """
    rng = random.Random(seed)
    scope_sets = {name: subtree_ids(root) for name, root in (scopes or {}).items()}
    cs = by_id()
    levels = {n: [c for c in concepts() if c.level == n] for n in (1, 2, 3)}
    items: list[dict] = []
    for l2 in levels[2]:
        domain = cs[l2.parents[0]]
        others = [c for c in levels[1] if c.id not in l2.parents]
        items.append(
            _item(
                "domain",
                2,
                f"Which broad domain does the category {l2.label} belong to?",
                domain,
                rng.sample(others, 3),
                [l2.id, domain.id],
                rng,
            )
        )
    for l2 in levels[2]:
        member = cs[rng.choice(children_of(l2.id))]
        outside = [c for c in levels[3] if l2.id not in c.parents]
        items.append(
            _item(
                "member",
                2,
                f"Which of these belongs to the category {l2.label}?",
                member,
                rng.sample(outside, 3),
                [l2.id, member.id],
                rng,
            )
        )
    for l3 in levels[3]:
        parent = cs[l3.parents[0]]
        others = [c for c in levels[2] if c.id not in l3.parents]
        items.append(
            _item(
                "category",
                3,
                f"Under which broader category does the concept {l3.label} fall?",
                parent,
                rng.sample(others, 3),
                [l3.id, parent.id],
                rng,
            )
        )
    for level in (1, 2):
        for concept in levels[level]:
            others = [c for c in levels[level] if c.id != concept.id]
            question = f"Which term matches this definition: {concept.definition}"
            items.append(
                _item("definition", level, question, concept, rng.sample(others, 3), [concept.id], rng)
            )
    for n, item in enumerate(items, start=1):
        touched = set(item["concept_ids"])
        item["scopes"] = [s for s, ids in scope_sets.items() if ids & touched]
        items[n - 1] = {"qa_id": f"qa-{n:03d}", **item}
    return items
