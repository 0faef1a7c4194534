"""The audit row of a question about an article itself names the article its record came from."""

from __future__ import annotations

import csv
import io
import json

from assistant.answer import AnswerEngine
from assistant.audit.reports import CSV_COLUMNS, write_csv

TITLE = "DeepSeek暂停API充值：AI算力逻辑再梳理"


def test_an_answer_from_an_articles_record_names_the_article_in_its_audit_row(
    offline: AnswerEngine,
) -> None:
    # "这篇文章是谁发的？" is answered from one article's record, citing nothing: the row listed
    # every passage retrieved, and an auditor could not tell which article the answer stated.
    assert offline.audit is not None
    answer = offline.ask("这篇文章是谁发的？")
    assert TITLE in answer.answer and not answer.citations
    row = offline.audit.turn(answer.turn_id)
    assert row is not None and row["why"] == "about_article"
    source = row["record_of"]
    assert source["title"] == TITLE and source["path"].endswith(".txt")
    retrieved = {r["chunk_id"]: r for r in row["retrieved"]}
    assert source["chunk_id"] in retrieved  # the passage whose article's record was stated
    assert source["doc_hash"] == retrieved[source["chunk_id"]]["doc_hash"] is not None
    assert source["path"] == retrieved[source["chunk_id"]]["path"]
    # The CSV an auditor opens holds it too.
    out = io.StringIO()
    write_csv(offline.audit.turns(1), out)
    table = list(csv.reader(io.StringIO(out.getvalue())))
    cell = table[1][CSV_COLUMNS.index("record_of")]
    assert json.loads(cell) == source

    # A product no record rates is stated from no article; a cited answer cites its own.
    for question in ("512480的风险等级是多少？", "杰文斯悖论是什么？"):
        answer = offline.ask(question)
        row = offline.audit.turn(answer.turn_id)
        assert row is not None and row.get("record_of") is None, question
