"""The knowledge base as a LangChain retriever: what a LangChain application gets back."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from assistant.langchain_retriever import KnowledgeBaseRetriever


def test_a_langchain_chain_gets_cited_passages_with_the_disclosure(seeded) -> None:
    settings, _ = seeded
    retriever = KnowledgeBaseRetriever.from_settings(settings, k=3)

    def numbered(docs: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['n']}] {d.page_content}" for d in docs)

    context = (retriever | RunnableLambda(numbered)).invoke("相关产品是哪只ETF？")
    assert "588930" in context and context.startswith("[1] ")

    docs = retriever.invoke("What is the Jevons paradox argument?")
    assert len(docs) == 3 and "杰文斯悖论" in docs[0].page_content
    meta = docs[0].metadata
    assert [d.metadata["n"] for d in docs] == [1, 2, 3]
    assert docs[0].id == meta["chunk_id"]
    assert meta["publisher"] == "银华基金" and meta["published"] == "2025-02"
    assert meta["citation"].startswith(f"《{meta['title']}》") and "2025-02" in meta["citation"]
    assert meta["path"].endswith(".txt") and meta["score"] >= docs[1].metadata["score"]
    assert meta["disclosure"].startswith("风险提示") and "投资有风险" not in meta["citation"]


def test_only_relevant_returns_nothing_for_a_question_the_articles_do_not_cover(seeded) -> None:
    settings, _ = seeded
    retriever = KnowledgeBaseRetriever.from_settings(settings, only_relevant=True)
    assert retriever.invoke("How do I bake sourdough bread?") == []
    assert retriever.invoke("588930是什么")
