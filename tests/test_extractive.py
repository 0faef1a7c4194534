"""The offline answer quotes the sentence that answers, not the ones that only share words."""

from __future__ import annotations

from assistant.extractive import select_sentences
from assistant.questions import answer_type, asks, beside_wh
from assistant.retrieval import Hit
from assistant.store import StoredChunk


def _hits(*texts: str) -> list[Hit]:
    return [
        Hit(StoredChunk(f"c{n}", text, {"path": f"a{n}.txt"}), 1.0 / n, 0.9, 1.0)
        for n, text in enumerate(texts, start=1)
    ]


def _first(question: str, *texts: str) -> str:
    excerpts = select_sentences(question, _hits(*texts), lambda token: 1.0, limit=1)
    assert len(excerpts) == 1
    return excerpts[0].text


def test_a_figure_question_quotes_the_sentence_with_the_figure_not_the_boilerplate() -> None:
    disclosure = (
        "开放式基金存在巨额赎回风险，基金份额持有人的赎回申请可能被延期办理。"
        "开放式基金的流动性风险包括巨额赎回风险和暂停赎回风险。"
        "单个开放日基金净赎回申请超过上一开放日基金总份额的百分之十，即为巨额赎回。"
        "投资者应当认真阅读基金合同，了解开放式基金的风险收益特征。"
    )
    quoted = _first("开放式基金的净赎回达到多少会触发巨额赎回风险？", disclosure)
    assert "百分之十" in quoted


def test_the_article_s_subject_in_every_sentence_does_not_crowd_out_the_answer() -> None:
    article = (
        "瘰鳞蛇是瘰鳞蛇科瘰鳞蛇属的一种蛇，主要分布于印度半岛。"
        "瘰鳞蛇主要分布于东南亚海域的群岛，亦出没于澳洲北部。"
        "瘰鳞蛇的体长可达一米，皮肤粗糙。"
        "它主要以鲈鱼等鱼类为食，偶尔也会进食鳗鱼。"
    )
    assert "为食" in _first("瘰鳞蛇主要以什么为食？", article)


def test_a_date_question_prefers_the_sentence_with_a_year() -> None:
    article = (
        "现代货箱码头是香港历史悠久的货柜码头营运商之一。"
        "现代货箱码头经营葵青货柜码头的多个码头。"
        "1991年，现代货箱码头成为香港第二大货柜码头营运商。"
    )
    assert "1991" in _first("现代货箱码头在哪一年成为第二大营运商？", article)


# The seed's chart on IT spending, its caption and its attribution, as the article sets them.
IT_SPENDING = (
    "在承认DeepSeek的成功之后，全球科技巨头仍在持续加大AI资本开支。"
    "据测算，2024年全球IT总支出达5万亿美元，相较2023年增长6.8%。"
    "图：2020-2024年全球IT支出情况\n（信息来源：国信证券）"
)


def test_a_which_firm_question_quotes_the_line_that_names_the_source() -> None:
    quoted = select_sentences(
        "全球IT支出那张图的数据出自哪家券商？", _hits(IT_SPENDING), lambda t: 1.0
    )
    assert any("国信证券" in excerpt.text for excerpt in quoted)


def test_a_charts_caption_is_quoted_only_when_the_chart_is_asked_about() -> None:
    # The caption repeats the question's words and answers nothing.
    quoted = select_sentences("全球IT支出是多少？", _hits(IT_SPENDING), lambda t: 1.0)
    assert any("5万亿美元" in e.text for e in quoted)
    assert not any("图：" in e.text for e in quoted)
    asked = select_sentences("全球IT支出那张图显示了哪些年份？", _hits(IT_SPENDING), lambda t: 1.0)
    assert any(e.text.startswith("图：2020-2024年") for e in asked)


def test_a_line_naming_a_source_is_quoted_only_when_a_source_is_asked_about() -> None:
    # "(信息来源:德邦证券)" under the paragraph on Jevons' paradox says where it comes from; as an
    # excerpt of its own it answers "杰文斯悖论是什么意思？" with nothing.
    jevons = (
        "所谓杰文斯悖论，简单来说就是，当某种资源的使用效率提高后，反而可能让人们用得更多。"
        "虽然单次使用AI大模型的成本可能降低了，但整体AI算力的消耗量反而上升。\n（信息来源：德邦证券）"
    )
    quoted = select_sentences("杰文斯悖论是什么意思？", _hits(jevons), lambda t: 1.0)
    assert any("杰文斯悖论" in e.text for e in quoted)
    assert not any("信息来源" in e.text for e in quoted)
    for asked in (
        "杰文斯悖论这段的信息来源是哪里？",
        "Where does the Jevons paradox passage come from?",
    ):
        assert any(
            "德邦证券" in e.text for e in select_sentences(asked, _hits(jevons), lambda t: 1.0)
        )


def test_a_sentence_announcing_what_the_article_does_next_is_not_quoted() -> None:
    opening = (
        "2月6日晚间，DeepSeek暂停了API服务充值。"
        "官方对此声明称，当前服务器资源紧张，我们已暂停API服务充值。"
        "此前市场上用DeepSeek唱衰AI算力股的观点得到阶段性证伪，底层逻辑如何？"
        "本文为大家一一梳理。"
    )
    quoted = select_sentences("暂停充值说明了什么？", _hits(opening), lambda t: 1.0)
    assert any("服务器资源紧张" in e.text for e in quoted)
    assert not any("一一梳理" in e.text for e in quoted)


def test_an_encyclopedia_s_detail_beats_the_opening_that_only_names_the_subject() -> None:
    # The subject is named once and then called 本鱼; the answer is a short sentence.
    article = (
        "黑尾前肛鳗，为辐鳍鱼纲鳗鲡目糯鳗亚目通鳃鳗科的其中一个种。"
        "本鱼分布于西太平洋区，包括日本、台湾及中国沿海。"
        "前上颌骨齿2枚。"
        "上颌骨齿细小，成2短列。"
    )
    assert "前上颌骨齿2枚" in _first("黑尾前肛鳗有几枚前上颌骨齿？", article)


def test_what_a_question_asks_is_read_from_its_wording() -> None:
    assert asks("哪一年") and asks("谁") and asks("哪家") and not asks("赎回")
    kinds = {
        "基金在哪一年成立？": "time",
        "When was the fund founded?": "time",
        "净赎回达到多少触发巨额赎回？": "quantity",
        "How many funds does it manage?": "quantity",
        "為什麼算力需求上升？": "reason",
        "全球IT支出那张图的数据出自哪家券商？": "source",
        "Which brokerage provided the chart?": "source",
        "基金经理是谁？": None,
    }
    for question, kind in kinds.items():
        found = answer_type(question)
        assert (found.name if found else None) == kind, question
    assert "厅是" in beside_wh("尼崎藩的藩厅是哪里？")


def test_a_name_jieba_cuts_apart_still_finds_its_sentence_by_its_characters() -> None:
    # jieba cuts the question's name as 林迪斯法 / 恩; the sentence that only shares 属于 and
    # 音乐 must not beat the one that names the band.
    article = (
        "在二十世纪七十年代，许多乐队来自英格兰东北部。"
        "教会执事属于服务部，他们可以是音乐家、礼仪师或教育家。"
        "林迪斯法恩是一个民谣摇滚组合，具有强大的泰恩塞德情结。"
    )
    assert "民谣摇滚" in _first("林迪斯法恩属于哪一种音乐类型?", article)


def test_the_sentence_a_pointing_back_one_refers_to_is_quoted_with_it() -> None:
    # "该法令…" holds the question's words; the name asked for is in the sentence before it.
    article = (
        "胡格诺派是法国的新教徒。"
        "1685年，路易十四颁布《枫丹白露法令》。"
        "该法令废止了新教在法国获得的一切法律地位。"
        "许多新教徒随后逃离法国，前往荷兰和普鲁士。"
        "法国的新教在18世纪几乎消失，直到大革命前才重新得到容忍。"
        "新教徒的法律地位在1787年的宽容敕令中部分恢复。"
    )
    question = "法国的哪一项法令废止了新教的法律地位？"
    quoted = select_sentences(question, _hits(article), lambda t: 1.0)
    assert any("枫丹白露" in e.text for e in quoted)  # not so when read alone (antecedent=False)


def test_a_quote_about_no_fund_is_shown_and_praise_beside_a_fund_is_not() -> None:
    # The same words judged where they stand: a source about a party may be quoted; beside a
    # fund's name they are the praise the sources panel masks, so no quote shows them either.
    party = "传统上，在墨尔本西郊的工人阶级中，工党最强大。自由党的支持者在东部。"
    quoted = select_sentences("墨尔本西郊哪个政党最强大？", _hits(party), lambda t: 1.0)
    assert any("工党最强大" in e.text for e in quoted)
    fund = "本基金由李明管理，投资科技股。他在业内最强大。李明毕业于北京大学。"
    quoted = select_sentences("李明在业内怎么样？", _hits(fund), lambda t: 1.0)
    assert quoted and not any("最强大" in e.text for e in quoted)


def test_a_lead_in_that_only_says_what_follows_is_not_quoted() -> None:
    disclosure = (
        "根据有关法律法规,银华基金管理股份有限公司做出如下风险揭示:\n"
        "一、基金分为股票基金、混合基金、债券基金等不同类型,您投资不同类型的基金将获得不同的收益预期。\n"
        "二、基金在投资运作过程中可能面临各种风险,既包括市场风险,也包括基金自身的管理风险。"
    )
    quoted = select_sentences("银华基金做出了哪些风险揭示？", _hits(disclosure), lambda t: 1.0)
    assert quoted and not [e.text for e in quoted if e.text.endswith((":", "："))]
    assert any("市场风险" in e.text for e in quoted)
