"""The relevance pre-filter and near-duplicate (转载) detection."""

import pytest

from crawlers import syndication
from crawlers.relevance import RelevanceFilter

FILTER = RelevanceFilter.from_file()


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("零一万物Yi-34B被指套壳Llama", ""),
        ("零一萬物被指套殼", "回應稱從零訓練"),  # traditional variants come from the simplified lexicon
        ("字节跳动回应", "被指调用OpenAI接口训练自家模型"),
        ("ByteDance and OpenAI", "The model was distilled from GPT-4 outputs, a report says."),
        ("Start-up denies claims", "It denied that its weights were copied from an open-source model."),
    ],
)
def test_provenance_coverage_is_kept(title: str, text: str) -> None:
    assert FILTER.judge(title, text).relevant


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("某手机厂商发布新款折叠屏手机", "售价8999元起，搭载最新处理器。"),
        ("月之暗面完成10亿美元融资", "投资方包括红杉中国。"),
        ("Rapid growth in AI chips", "Nvidia reported record revenue; capital expenditure rose."),
        ("OpenAI launches Sora", "OpenAI showed a video model."),  # one weak cue is not enough
    ],
)
def test_unrelated_ai_news_is_dropped(title: str, text: str) -> None:
    assert not FILTER.judge(title, text).relevant


ORIGINAL = (
    "零一万物Yi-34B被指套壳Llama\n"
    "近日，有开发者在Hugging Face上发现，零一万物发布的Yi-34B模型沿用了Meta的Llama架构。"
    "这一发现迅速在社交媒体上引发热议，不少网友质疑Yi-34B是否属于套壳。\n"
    "对此，零一万物回应称，模型是从零开始训练的，训练数据和方法都是团队自主完成的。"
    "公司表示，对张量改名是团队的疏忽，将在新版本中改回原名。"
)


def test_repost_with_new_title_and_frame_is_a_copy() -> None:
    repost = (
        "大模型自研之争：改名风波始末\n转载自：测试新闻网\n"
        + ORIGINAL.split("\n", 1)[1]
        + "\n（本文转载自合作媒体）"
    )
    a = syndication.fingerprint(ORIGINAL, "零一万物Yi-34B被指套壳Llama")
    b = syndication.fingerprint(repost, "大模型自研之争：改名风波始末")
    assert a and b
    assert syndication.is_copy(len(a & b), len(a), len(b))


def test_different_story_on_the_same_topic_is_not_a_copy() -> None:
    other = (
        "百度回应文心一言套壳质疑\n百度表示，文心一言是百度自主研发的大语言模型，训练数据来自公开数据。"
        "公司否认套壳的说法，并表示已就不实信息报警。业内人士认为，质疑源于图片生成的翻译错误。"
    )
    a, b = syndication.fingerprint(ORIGINAL), syndication.fingerprint(other)
    assert a and b and not syndication.is_copy(len(a & b), len(a), len(b))


def test_too_little_text_has_no_fingerprint() -> None:
    assert syndication.fingerprint("快讯：某公司回应。") is None
