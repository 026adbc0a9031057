"""Full-text search of images (``?q=``): words of the prompt, the title and the tags, prefixes included.

On PostgreSQL the title (weight A) and prompt (weight B) go through
``to_tsvector('english', ...)``, the same expression as the GIN index
``img_search`` (migration 0008), and every word of the query must match as a
prefix (``word:*``) there or start a tag; results carry a ``rank``
(``ts_rank``, plus a little for a tag match). Elsewhere (SQLite) every word
must occur in the title or prompt or start a tag, and ``rank`` counts where.

More text to search joins through ``RELATED_TEXT``: a model, its foreign key
to the image and the text field (tags, and the analyzer's labels), each
matched as "a word starts it" through its own index.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, Exists, F, FloatField, Func, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Cast

from imagegen.errors import Invalid
from images.models import Image, ImageLabel, image_search_vector

MAX_QUERY_LENGTH = 200
MAX_TERMS = 16
CONFIG = "english"
_WORD = re.compile(r"\w+")
# The fallback skips the commonest English words, as PostgreSQL's english configuration does (a few of its).
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)

# (model, its foreign key to the image, the text field): searched as "a word starts it".
# Labels are stored lower-cased (services/analysis.py), as the terms are.
RELATED_TEXT: list[tuple[Any, str, str]] = [
    (Image.tags.through, "image_id", "tag__name"),
    (ImageLabel, "image_id", "name"),
]


def search_terms(q: str) -> list[str]:
    """The words of a query, lower-cased and de-duplicated; ``Invalid`` when it has none or is too long."""
    if len(q) > MAX_QUERY_LENGTH:
        raise Invalid("max_length", f"q: at most {MAX_QUERY_LENGTH} characters", "q")
    terms = list(dict.fromkeys(word.lower() for word in _WORD.findall(q.replace("\x00", " "))))
    if not terms:
        raise Invalid("no_search_terms", "q: give at least one word (letters or digits) to search for", "q")
    return terms[:MAX_TERMS]


def _related_match(term: str) -> Q:
    matches = Q()
    for model, image_field, text_field in RELATED_TEXT:
        related = model.objects.filter(**{image_field: OuterRef("pk"), f"{text_field}__startswith": term})
        matches |= Q(Exists(related))
    return matches


def images_search(images: QuerySet[Image], q: str) -> QuerySet[Image]:
    """``images`` that match every word of ``q``, each with a ``rank`` (higher: better)."""
    terms = search_terms(q)
    if connection.vendor == "postgresql":
        return _postgres_search(images, terms)
    return _fallback_search(images, terms)


def _prefix_query(terms: list[str]) -> SearchQuery:
    # Raw tsquery syntax is safe here: every term is \w+ only, no operator can get in.
    return SearchQuery(" & ".join(f"{term}:*" for term in terms), search_type="raw", config=CONFIG)


def _postgres_search(images: QuerySet[Image], terms: list[str]) -> QuerySet[Image]:
    document = image_search_vector()
    # Candidates first: what the GIN index finds for any word, and what any word's tag finds. As one
    # IN (... UNION ...), so the planner reads both through their indexes instead of scanning.
    by_text = Image.objects.annotate(search_document=document).filter(search_document=_any_query(terms)).values("pk")
    candidates = by_text.union(*[_related_ids(term) for term in terms])
    images = images.filter(pk__in=candidates).annotate(search_document=document)
    wanted = Q()
    for index, term in enumerate(terms):
        query = _prefix_query([term])
        # A stop word ("a", "the") leaves an empty tsquery that matches nothing: it must not veto the rest.
        images = images.alias(**{f"search_nodes_{index}": Func(query, function="numnode", output_field=IntegerField())})
        wanted &= Q(search_document=query) | Q(**{f"search_nodes_{index}": 0}) | _related_match(term)
    any_related = Q()
    for term in terms:
        any_related |= _related_match(term)
    rank = SearchRank(F("search_document"), _prefix_query(terms)) + Case(
        When(any_related, then=Value(0.1)), default=Value(0.0), output_field=FloatField()
    )
    # Double precision: the cursor of a page by relevance compares ranks exactly.
    return images.filter(wanted).annotate(rank=Cast(rank, FloatField()))


def _any_query(terms: list[str]) -> SearchQuery:
    return SearchQuery(" | ".join(f"{term}:*" for term in terms), search_type="raw", config=CONFIG)


def _related_ids(term: str) -> QuerySet:
    model, image_field, text_field = RELATED_TEXT[0]
    ids = model.objects.filter(**{f"{text_field}__startswith": term}).values(image_field)
    for model, image_field, text_field in RELATED_TEXT[1:]:
        ids = ids.union(model.objects.filter(**{f"{text_field}__startswith": term}).values(image_field))
    return ids


def _fallback_search(images: QuerySet[Image], terms: list[str]) -> QuerySet[Image]:
    terms = [term for term in terms if term not in _STOP_WORDS] or terms
    wanted = Q()
    rank: Any = Value(0.0)
    for term in terms:
        wanted &= Q(title__icontains=term) | Q(prompt__icontains=term) | _related_match(term)
        for condition, weight in ((Q(title__icontains=term), 1.0), (Q(prompt__icontains=term), 0.4),
                                  (_related_match(term), 0.2)):  # fmt: skip
            rank = rank + Case(When(condition, then=Value(weight)), default=Value(0.0), output_field=FloatField())
    return images.filter(wanted).annotate(rank=Cast(rank, FloatField()))
