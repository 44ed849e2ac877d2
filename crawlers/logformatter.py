"""Scrapy's log lines for items, without the items.

Scrapy's own formatter writes the whole item into "Scraped from" and "Dropped" lines: here an item
carries an article's full text, so each line was kilobytes and the crawl log unreadable. The
pipelines already log each outcome with the article's id and URL (`article_handed_off`,
`article_dropped`), so these lines name the URL only, and a drop is DEBUG: it is not a warning that
an irrelevant page was left out.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter


def _item_url(item: Any) -> str:
    article = getattr(item, "article", None)
    return getattr(article, "url", None) or getattr(item, "requested_url", None) or type(item).__name__


class ConciseLogFormatter(LogFormatter):
    def scraped(self, item, response, spider):  # noqa: ANN001, ANN201 - Scrapy's signature
        return {"level": logging.DEBUG, "msg": "Scraped %(url)s", "args": {"url": _item_url(item)}}

    def dropped(self, item, exception, response, spider):  # noqa: ANN001, ANN201
        return {
            "level": logging.DEBUG,
            "msg": "Dropped %(url)s: %(exception)s",
            "args": {"url": _item_url(item), "exception": exception},
        }

    def item_error(self, item, exception, response, spider):  # noqa: ANN001, ANN201
        return {"level": logging.ERROR, "msg": "Error processing %(url)s", "args": {"url": _item_url(item)}}
