"""Embedding the bench's figures in the README."""

from __future__ import annotations

import pytest

from bench.report import BEGIN, END, embed


def test_embed_replaces_only_the_marked_section() -> None:
    document = f"# Title\n\nbefore\n{BEGIN}\nold figures\nmore\n{END}\n\nafter\n"

    result = embed("| new | figures |\n", document)

    assert result == f"# Title\n\nbefore\n{BEGIN}\n| new | figures |\n{END}\n\nafter\n"


def test_embedding_twice_gives_the_same_document() -> None:
    document = f"{BEGIN}\n{END}\n"

    once = embed("table\n", document)

    assert embed("table\n", once) == once


@pytest.mark.parametrize("document", ["no markers", f"{END}\n{BEGIN}\n", f"{BEGIN} only"])
def test_a_document_without_a_marked_section_is_refused(document: str) -> None:
    with pytest.raises(ValueError, match="bench results"):
        embed("table", document)
