"""Build the offline demo newsroom (demo/newsroom/) and its ground truth (demo/expected.yaml).

The articles live as UTF-8 sources in demo/content/<outlet>/<slug>.md: a YAML front matter block
(title, published, author, incident, claims ...) and the body, paragraphs separated by blank lines.
This script renders every outlet the way a real site would look to a crawler: its own page template
with navigation, related links, comments and footer around the article body, its own encoding
(UTF-8, Big5, GBK), its own place for the date (meta tag, JSON-LD, <time>, plain text) and its own
entry point (RSS 2.0, Atom, Google News sitemap, an HTML listing page).

Every link is root-relative (`/techdaily/...`): the newsroom is served on a random 127.0.0.1 port.
Run it after editing content; commit both the sources and the output:

    .venv/bin/python demo/build_newsroom.py
"""

from __future__ import annotations

import html
import json
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import yaml

DEMO = Path(__file__).resolve().parent
CONTENT = DEMO / "content"
OUT = DEMO / "newsroom"
EXPECTED = DEMO / "expected.yaml"

NOTICE_EN = (
    "All articles in this demo newsroom were written for the ShellWatch project. They paraphrase "
    "public reporting on real events; the outlets, their journalists and the fictional companies "
    "are invented, and quotes are attributed only as far as the public record supports them."
)
NOTICE_ZH = (
    "本演示新闻站的全部文章均为 ShellWatch 项目撰写，转述公开报道中的真实事件；"
    "媒体名称、记者及虚构公司均为杜撰，引语仅在公开记录支持的范围内归属。"
)
NOTICE_HANT = (
    "本演示新聞站的全部文章均為 ShellWatch 項目撰寫，轉述公開報道中的真實事件；"
    "媒體名稱、記者及虛構公司均為杜撰，引語僅在公開記錄支持的範圍內歸屬。"
)

CLAIM_TYPES = {
    "self_developed",
    "llama_based",
    "api_distilled",
    "api_wrapper",
    "prompt_wrapper",
    "rag_wrapper",
    "fine_tuned",
}
STANCES = {"allegation", "denial", "admission", "self_claim", "analysis"}


@dataclass
class Outlet:
    slug: str
    name: str
    language: str  # zh | en
    script: str  # zh-Hans | zh-Hant | en
    encoding: str  # the bytes on disk and the declared charset
    charset_label: str  # as declared in the page
    entry: str  # rss | atom | sitemap | listing
    home_title: str
    articles: list[Article] = field(default_factory=list)


@dataclass
class Article:
    outlet: Outlet
    slug: str
    meta: dict
    body: list[str]

    @property
    def path(self) -> str:
        return f"/{self.outlet.slug}/article/{self.slug}.html"

    @property
    def title(self) -> str:
        return self.meta["title"]

    @property
    def published(self) -> datetime:
        value = self.meta["published"]
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            raise SystemExit(f"{self.outlet.slug}/{self.slug}: published needs an offset")
        return value

    @property
    def author(self) -> str:
        return self.meta.get("author", "")

    @property
    def summary(self) -> str:
        text = self.body[0]
        limit = 90 if self.outlet.language == "zh" else 220
        return text if len(text) <= limit else text[:limit].rstrip() + "…"


OUTLETS = [
    Outlet(
        "techdaily", "科技日刊 TechDaily", "zh", "zh-Hans", "utf-8", "utf-8", "rss", "科技日刊 - 人工智能频道"
    ),
    Outlet(
        "ai-ledger", "The AI Ledger", "en", "en", "utf-8", "utf-8", "atom", "The AI Ledger — AI industry news"
    ),
    Outlet(
        "hk-techwire",
        "港科電訊 HK TechWire",
        "zh",
        "zh-Hant",
        "big5",
        "big5",
        "sitemap",
        "港科電訊 - 人工智能",
    ),
    Outlet("kejixun", "科技迅闻网", "zh", "zh-Hans", "gbk", "gbk", "listing", "科技迅闻网 - AI频道"),
    Outlet("syndicate", "智讯聚合", "zh", "zh-Hans", "utf-8", "utf-8", "rss", "智讯聚合 - 热点资讯"),
]
BY_SLUG = {o.slug: o for o in OUTLETS}

# Deliberately broken things the crawler must survive and count.
MALFORMED_PATH = "/techdaily/article/20240220-ai-phone-assistant.html"
MISSING_PATH = "/kejixun/article/20240301-ai-chip-roundup.html"  # linked from the listing, never written


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def load_articles() -> None:
    for outlet in OUTLETS:
        for source in sorted((CONTENT / outlet.slug).glob("*.md")):
            raw = source.read_text(encoding="utf-8")
            if not raw.startswith("---\n"):
                raise SystemExit(f"{source}: no front matter")
            _, front, body = raw.split("---\n", 2)
            meta = yaml.safe_load(front)
            joiner = " " if outlet.language == "en" else ""
            paragraphs = [
                joiner.join(line.strip() for line in p.splitlines()) for p in body.strip().split("\n\n")
            ]
            outlet.articles.append(Article(outlet, source.stem, meta, paragraphs))
        outlet.articles.sort(key=lambda a: a.published, reverse=True)
    # Syndicated copies take the original's body, add a source line.
    for article in BY_SLUG["syndicate"].articles:
        original = find(article.meta["syndicated_from"])
        article.body = [*original.body]
        article.meta.setdefault("incident", original.meta.get("incident"))
        article.meta.setdefault("claims", original.meta.get("claims", []))
        article.meta.setdefault("relevant", original.meta.get("relevant", True))


def find(path: str) -> Article:
    for outlet in OUTLETS:
        for article in outlet.articles:
            if article.path == path:
                return article
    raise SystemExit(f"unknown article {path}")


def validate() -> None:
    for outlet in OUTLETS:
        for a in outlet.articles:
            where = f"{outlet.slug}/{a.slug}"
            for key in ("title", "published", "author"):
                if key not in a.meta:
                    raise SystemExit(f"{where}: missing {key}")
            for claim in a.meta.get("claims", []) or []:
                if claim["type"] not in CLAIM_TYPES or claim["stance"] not in STANCES:
                    raise SystemExit(f"{where}: bad claim {claim}")
                if not claim.get("subject") and not claim.get("subject_name"):
                    raise SystemExit(f"{where}: claim without subject {claim}")
            text = "".join(a.body)
            size = len(text)
            if outlet.language == "zh" and outlet.slug != "syndicate" and not 600 <= size <= 1500:
                print(f"warning: {where}: {size} characters (want 600-1500)", file=sys.stderr)
            if outlet.language == "en" and not 2500 <= size <= 4000:
                print(f"warning: {where}: {size} characters (want 2500-4000)", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Page templates, one per outlet
# ---------------------------------------------------------------------------------------------


def related(article: Article, count: int = 4) -> list[Article]:
    others = [a for a in article.outlet.articles if a is not article]
    return others[:count]


def paragraphs_html(article: Article) -> str:
    return "\n".join(f"      <p>{esc(p)}</p>" for p in article.body)


def page_techdaily(a: Article) -> str:
    when = a.published
    rel = "\n".join(f'          <li><a href="{r.path}">{esc(r.title)}</a></li>' for r in related(a))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>{esc(a.title)} - 科技日刊</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="{esc(a.summary)}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{esc(a.title)}">
  <meta property="og:site_name" content="科技日刊">
  <meta property="article:published_time" content="{when.isoformat()}">
  <meta property="article:author" content="{esc(a.author)}">
  <meta property="article:section" content="{esc(a.meta.get("section", "人工智能"))}">
  <link rel="canonical" href="{a.path}">
  <link rel="stylesheet" href="/techdaily/static/site.css">
</head>
<body>
  <div class="topbar">
    <a class="logo" href="/techdaily/">科技日刊</a>
    <ul class="nav">
      <li><a href="/techdaily/">首页</a></li>
      <li><a href="/techdaily/">人工智能</a></li>
      <li><a href="/techdaily/">芯片</a></li>
      <li><a href="/techdaily/">创投</a></li>
      <li><a href="/techdaily/rss.xml">RSS订阅</a></li>
    </ul>
    <form class="search" action="/techdaily/"><input name="q" placeholder="搜索"></form>
  </div>
  <div class="crumbs"><a href="/techdaily/">首页</a> &gt; <a href="/techdaily/">人工智能</a> &gt; 正文</div>
  <div class="main">
    <div class="article">
      <h1 class="title">{esc(a.title)}</h1>
      <div class="meta">
        <span class="time">{when:%Y-%m-%d %H:%M}</span>
        <span class="source">来源：科技日刊</span>
        <span class="author">作者：{esc(a.author)}</span>
      </div>
      <div class="article-content">
{paragraphs_html(a)}
      </div>
      <div class="editor">（责任编辑：{esc(a.meta.get("editor", "李文"))}）</div>
      <div class="share">分享到：<a href="/techdaily/">微博</a> <a href="/techdaily/">微信</a> <a href="/techdaily/">QQ空间</a></div>
    </div>
    <div class="comments">
      <h3>网友评论（2）</h3>
      <div class="comment"><span class="user">用户8821</span>：坐等后续。</div>
      <div class="comment"><span class="user">码农小周</span>：看看技术报告再说吧。</div>
    </div>
  </div>
  <div class="sidebar">
    <div class="ad">广告 · 企业云服务限时五折</div>
    <h3>相关阅读</h3>
    <ul class="related">
{rel}
    </ul>
  </div>
  <div class="footer">
    <p><a href="/techdaily/">关于我们</a> | <a href="/techdaily/">联系我们</a> | <a href="/techdaily/">投稿</a> | <a href="/">演示新闻站首页</a></p>
    <p>© 2023-2025 科技日刊（虚构媒体，仅供 ShellWatch 演示）</p>
  </div>
</body>
</html>
"""


def page_ai_ledger(a: Article) -> str:
    when = a.published
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": a.title,
        "datePublished": when.isoformat(),
        "dateModified": when.isoformat(),
        "author": [{"@type": "Person", "name": a.author}],
        "publisher": {"@type": "Organization", "name": "The AI Ledger"},
        "inLanguage": "en",
        "mainEntityOfPage": a.path,
    }
    rel = "\n".join(f'        <li><a href="{r.path}">{esc(r.title)}</a></li>' for r in related(a, 3))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{esc(a.title)} | The AI Ledger</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="{esc(a.summary)}">
  <meta property="og:title" content="{esc(a.title)}">
  <meta property="og:type" content="article">
  <link rel="canonical" href="{a.path}">
  <link rel="alternate" type="application/atom+xml" title="The AI Ledger" href="/ai-ledger/atom.xml">
  <script type="application/ld+json">
{json.dumps(ld, ensure_ascii=False, indent=2)}
  </script>
</head>
<body>
  <header class="site-header">
    <a class="brand" href="/ai-ledger/">The AI Ledger</a>
    <nav>
      <a href="/ai-ledger/">Latest</a>
      <a href="/ai-ledger/">Models</a>
      <a href="/ai-ledger/">Policy</a>
      <a href="/ai-ledger/">Funding</a>
      <a href="/ai-ledger/atom.xml">Feed</a>
    </nav>
    <a class="subscribe" href="/ai-ledger/">Subscribe to our newsletter</a>
  </header>
  <main>
    <article>
      <p class="kicker">{esc(a.meta.get("section", "Models"))}</p>
      <h1>{esc(a.title)}</h1>
      <p class="dek">{esc(a.meta.get("dek", ""))}</p>
      <p class="byline">By <span class="author">{esc(a.author)}</span></p>
      <p class="dateline">{when:%b} {when.day}, {when:%Y}</p>
      <div class="story-body">
{paragraphs_html(a)}
      </div>
      <aside class="newsletter">Get the Ledger in your inbox every weekday morning. <a href="/ai-ledger/">Sign up</a>.</aside>
    </article>
    <section class="more">
      <h2>More from The AI Ledger</h2>
      <ul>
{rel}
      </ul>
    </section>
  </main>
  <footer>
    <p><a href="/ai-ledger/">About</a> · <a href="/ai-ledger/">Ethics policy</a> · <a href="/ai-ledger/">Contact</a> · <a href="/">Demo newsroom home</a></p>
    <p>© The AI Ledger, a fictional publication for the ShellWatch demo.</p>
  </footer>
</body>
</html>
"""


def page_hk_techwire(a: Article) -> str:
    when = a.published
    rel = "\n".join(f'        <li><a href="{r.path}">{esc(r.title)}</a></li>' for r in related(a, 4))
    return f"""<!DOCTYPE html>
<html lang="zh-HK">
<head>
<meta charset="big5">
<title>{esc(a.title)}｜港科電訊</title>
<meta name="description" content="{esc(a.summary)}">
<link rel="canonical" href="{a.path}">
</head>
<body>
<div id="header">
  <a href="/hk-techwire/" class="logo">港科電訊</a>
  <ul class="menu">
    <li><a href="/hk-techwire/">即時</a></li>
    <li><a href="/hk-techwire/">人工智能</a></li>
    <li><a href="/hk-techwire/">創科</a></li>
    <li><a href="/hk-techwire/">財經</a></li>
  </ul>
</div>
<div id="content">
  <div class="story">
    <h1>{esc(a.title)}</h1>
    <div class="info">
      <span class="reporter">記者：{esc(a.author)}</span>
      <time datetime="{when.isoformat()}">{when.year}年{when.month}月{when.day}日 {when:%H:%M}</time>
    </div>
    <div id="story-text">
{paragraphs_html(a)}
    </div>
    <div class="tags">標籤：人工智能 大模型</div>
  </div>
  <div class="hot">
    <h3>熱門新聞</h3>
    <ul>
{rel}
    </ul>
  </div>
</div>
<div id="footer">
  <p><a href="/hk-techwire/">關於我們</a> ｜ <a href="/hk-techwire/">私隱政策</a> ｜ <a href="/">演示新聞站首頁</a></p>
  <p>港科電訊為 ShellWatch 演示虛構媒體。</p>
</div>
</body>
</html>
"""


def page_kejixun(a: Article) -> str:
    when = a.published
    rel = "\n".join(f'<li><a href="{r.path}">{esc(r.title)}</a></li>' for r in related(a, 4))
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>{esc(a.title)}_科技迅闻网</title>
<meta name="keywords" content="人工智能,大模型,科技">
</head>
<body>
<table width="100%" class="top"><tr>
<td><a href="/kejixun/index.html">科技迅闻网</a></td>
<td><a href="/kejixun/index.html">首页</a> | <a href="/kejixun/index.html">AI</a> | <a href="/kejixun/index.html">手机</a> | <a href="/kejixun/index.html">互联网</a></td>
</tr></table>
<div class="wrap">
<div class="left">
<h1 class="art-title">{esc(a.title)}</h1>
<div class="art-info">{when.year}年{when.month}月{when.day}日 {when:%H:%M}　来源：科技迅闻网　作者：{esc(a.author)}</div>
<div class="art-body">
{paragraphs_html(a)}
</div>
<div class="art-page">上一篇：<a href="/kejixun/index.html">返回列表</a></div>
</div>
<div class="right">
<div class="box"><h4>推荐阅读</h4><ul>
{rel}
</ul></div>
<div class="box ad">广告位招租</div>
</div>
</div>
<div class="foot">关于我们 | 广告服务 | <a href="/">演示新闻站首页</a><br>科技迅闻网为虚构媒体，仅供 ShellWatch 演示。</div>
</body>
</html>
"""


def page_syndicate(a: Article) -> str:
    when = a.published
    original = find(a.meta["syndicated_from"])
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{esc(a.title)}_智讯聚合</title>
<meta name="publishdate" content="{when:%Y-%m-%d %H:%M:%S}">
</head>
<body>
<div class="header"><a href="/syndicate/">智讯聚合</a> <a href="/syndicate/">热点</a> <a href="/syndicate/">科技</a> <a href="/syndicate/">财经</a></div>
<div class="container">
<h1>{esc(a.title)}</h1>
<div class="info"><span>发布时间：{when:%Y-%m-%d %H:%M}</span> <span>来源：{esc(original.outlet.name.split()[0])}</span> <span>编辑：{esc(a.author)}</span></div>
<div class="content">
{paragraphs_html(a)}
<p class="copyright">（来源：{esc(original.outlet.name.split()[0])}，原标题：{esc(original.title)}）</p>
</div>
<div class="disclaimer">免责声明：本文转载自其他媒体，转载目的在于传递更多信息，不代表本站观点。</div>
</div>
<div class="footer"><a href="/">演示新闻站首页</a> · 智讯聚合（虚构网站）</div>
</body>
</html>
"""


PAGES = {
    "techdaily": page_techdaily,
    "ai-ledger": page_ai_ledger,
    "hk-techwire": page_hk_techwire,
    "kejixun": page_kejixun,
    "syndicate": page_syndicate,
}


def malformed_page() -> str:
    """A feed item whose page is broken markup: mis-nested, unclosed, cut off inside a script."""
    return """<html><head><meta charset="utf-8"><title>某手机厂商发布新版语音助手 - 科技日刊</title>
<meta property="article:published_time" content="2024-02-20T11:00:00+08:00">
<body><div class="article"><h1>某手机厂商发布新版语音助手</h1></span></td></tr>
<div class="article-content"><p>某手机厂商在发布会上展示新版语音助手，<b>支持连续对话<p>与日程管理</i>
<table><tr><td><p>发布会现场</div></table></table>
<script>var cfg = {"ads": ["<div>", "<p>
"""


# ---------------------------------------------------------------------------------------------
# Listing pages and feeds
# ---------------------------------------------------------------------------------------------


def outlet_index(outlet: Outlet) -> str:
    items = [(a.path, a.title, a.published) for a in outlet.articles]
    if outlet.slug == "kejixun":
        # A listing link to a page that does not exist (404), between real ones.
        items.insert(
            2,
            (
                MISSING_PATH,
                "2024年AI芯片盘点：算力之争进入下半场",
                datetime.fromisoformat("2024-03-01T09:00:00+08:00"),
            ),
        )
    if outlet.slug == "techdaily":
        items.append(
            (
                MALFORMED_PATH,
                "某手机厂商发布新版语音助手",
                datetime.fromisoformat("2024-02-20T11:00:00+08:00"),
            )
        )
        items.sort(key=lambda x: x[2], reverse=True)
    if outlet.language == "en":
        lis = "\n".join(
            f'    <li><a href="{p}">{esc(t)}</a> <span class="date">{d:%b} {d.day}, {d:%Y}</span></li>'
            for p, t, d in items
        )
    else:
        lis = "\n".join(
            f'    <li><a href="{p}">{esc(t)}</a> <span class="date">{d:%Y-%m-%d}</span></li>'
            for p, t, d in items
        )
    charset = {
        "big5": '<meta charset="big5">',
        "gbk": '<meta http-equiv="Content-Type" content="text/html; charset=gbk">',
    }.get(outlet.encoding, '<meta charset="utf-8">')
    feed = {
        "rss": f'<link rel="alternate" type="application/rss+xml" href="/{outlet.slug}/rss.xml">',
        "atom": f'<link rel="alternate" type="application/atom+xml" href="/{outlet.slug}/atom.xml">',
    }.get(outlet.entry, "")
    notice = {"en": NOTICE_EN, "zh-Hant": NOTICE_HANT}.get(outlet.script, NOTICE_ZH)
    return f"""<!DOCTYPE html>
<html>
<head>
{charset}
<title>{esc(outlet.home_title)}</title>
{feed}
</head>
<body>
<h1>{esc(outlet.name)}</h1>
<ul class="news-list">
{lis}
</ul>
<p class="pager"><a href="/{outlet.slug}/">1</a></p>
<p class="notice">{esc(notice)}</p>
<p><a href="/">Demo newsroom home</a></p>
</body>
</html>
"""


def rss(outlet: Outlet, extra: list[tuple[str, str, datetime, str]] = ()) -> str:
    items = [(a.path, a.title, a.published, a.summary) for a in outlet.articles] + list(extra)
    items.sort(key=lambda x: x[2], reverse=True)
    entries = "\n".join(
        f"""    <item>
      <title>{esc(t)}</title>
      <link>{p}</link>
      <guid isPermaLink="false">{outlet.slug}-{p.rsplit("/", 1)[-1].removesuffix(".html")}</guid>
      <pubDate>{format_datetime(d)}</pubDate>
      <description>{esc(s)}</description>
    </item>"""
        for p, t, d, s in items
    )
    latest = max(x[2] for x in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>{esc(outlet.home_title)}</title>
    <link>/{outlet.slug}/</link>
    <description>{esc(outlet.name)}（虚构媒体，ShellWatch 演示）</description>
    <language>zh-cn</language>
    <lastBuildDate>{format_datetime(latest)}</lastBuildDate>
{entries}
  </channel>
</rss>
"""


def atom(outlet: Outlet) -> str:
    entries = "\n".join(
        f"""  <entry>
    <title>{esc(a.title)}</title>
    <link rel="alternate" type="text/html" href="{a.path}"/>
    <id>tag:ai-ledger.example,{a.published:%Y-%m-%d}:{a.slug}</id>
    <published>{a.published.isoformat()}</published>
    <updated>{a.published.isoformat()}</updated>
    <author><name>{esc(a.author)}</name></author>
    <summary>{esc(a.summary)}</summary>
  </entry>"""
        for a in outlet.articles
    )
    latest = max(a.published for a in outlet.articles)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>The AI Ledger</title>
  <subtitle>A fictional publication for the ShellWatch demo</subtitle>
  <link rel="self" href="/ai-ledger/atom.xml"/>
  <link rel="alternate" href="/ai-ledger/"/>
  <id>tag:ai-ledger.example,2023:feed</id>
  <updated>{latest.isoformat()}</updated>
{entries}
</feed>
"""


def news_sitemap(outlet: Outlet) -> str:
    urls = "\n".join(
        f"""  <url>
    <loc>{a.path}</loc>
    <news:news>
      <news:publication>
        <news:name>港科電訊</news:name>
        <news:language>zh-tw</news:language>
      </news:publication>
      <news:publication_date>{a.published.isoformat()}</news:publication_date>
      <news:title>{esc(a.title)}</news:title>
    </news:news>
  </url>"""
        for a in outlet.articles
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>
"""


def home() -> str:
    rows = []
    for o in OUTLETS:
        entry = {
            "rss": f'<a href="/{o.slug}/rss.xml">RSS 2.0</a>',
            "atom": f'<a href="/{o.slug}/atom.xml">Atom</a>',
            "sitemap": f'<a href="/{o.slug}/sitemap.xml">Google News sitemap</a>',
            "listing": f'<a href="/{o.slug}/index.html">listing page</a>',
        }[o.entry]
        rows.append(
            f'<tr><td><a href="/{o.slug}/">{esc(o.name)}</a></td><td>{o.script}</td>'
            f"<td>{o.encoding}</td><td>{entry}</td><td>{len(o.articles)}</td></tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>ShellWatch demo newsroom</title></head>
<body>
<h1>ShellWatch demo newsroom</h1>
<p class="notice"><strong>Notice.</strong> {esc(NOTICE_EN)}</p>
<p class="notice" lang="zh-CN"><strong>说明：</strong>{esc(NOTICE_ZH)}</p>
<table>
<tr><th>Outlet</th><th>Script</th><th>Encoding</th><th>Entry point</th><th>Articles</th></tr>
{chr(10).join(rows)}
</table>
</body>
</html>
"""


ROBOTS = """User-agent: *
Disallow: /admin/
"""


# ---------------------------------------------------------------------------------------------
# Ground truth
# ---------------------------------------------------------------------------------------------


def expected() -> dict:
    articles = {}
    for outlet in OUTLETS:
        for a in sorted(outlet.articles, key=lambda a: a.published):
            claims = []
            for c in a.meta.get("claims") or []:
                claim = {"subject": c.get("subject"), "type": c["type"], "stance": c["stance"]}
                if c.get("subject_name"):
                    claim["subject_name"] = c["subject_name"]
                if c.get("object"):
                    claim["object"] = c["object"]
                claims.append(claim)
            articles[a.path] = {
                "outlet": outlet.slug,
                "language": outlet.language,
                "script": outlet.script,
                "encoding": outlet.encoding,
                "title": a.title,
                "author": a.author,
                "published": a.published.isoformat(),
                "incident": a.meta.get("incident"),
                "relevant": bool(a.meta.get("relevant", True)),
                "syndicated_from": a.meta.get("syndicated_from"),
                "claims": claims,
            }
    incidents = yaml.safe_load((CONTENT / "incidents.yaml").read_text(encoding="utf-8"))
    return {
        "notice": NOTICE_EN,
        "sources": {
            o.slug: {
                "name": o.name,
                "language": o.language,
                "script": o.script,
                "encoding": o.encoding,
                "entry": {
                    "rss": f"/{o.slug}/rss.xml",
                    "atom": f"/{o.slug}/atom.xml",
                    "sitemap": f"/{o.slug}/sitemap.xml",
                    "listing": f"/{o.slug}/index.html",
                }[o.entry],
            }
            for o in OUTLETS
        },
        "incidents": incidents,
        "articles": articles,
        "broken": [
            {
                "path": MALFORMED_PATH,
                "kind": "malformed_html",
                "linked_from": "/techdaily/rss.xml",
                "expect": "survive and count; mis-nested tags, cut off inside an unclosed <script>; not relevant",
            },
            {
                "path": MISSING_PATH,
                "kind": "http_404",
                "linked_from": "/kejixun/index.html",
                "expect": "count as failed (404) and carry on",
            },
        ],
    }


# ---------------------------------------------------------------------------------------------


def write(path: str, text: str, encoding: str = "utf-8") -> None:
    target = _out / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        context = text[max(0, exc.start - 20) : exc.end + 20]
        raise SystemExit(f"{path}: {bad!r} cannot be encoded as {encoding}: …{context}…") from None
    target.write_bytes(data)


_out = OUT


def build(out: Path = OUT, expected_path: Path = EXPECTED) -> None:
    """Write the newsroom to `out` (replacing it) and the ground truth to `expected_path`."""
    global _out
    _out = out
    for outlet in OUTLETS:
        outlet.articles.clear()
    load_articles()
    validate()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    write("index.html", home())
    write("robots.txt", ROBOTS)
    for outlet in OUTLETS:
        for a in outlet.articles:
            write(a.path, PAGES[outlet.slug](a), outlet.encoding)
        write(f"/{outlet.slug}/index.html", outlet_index(outlet), outlet.encoding)
    td = BY_SLUG["techdaily"]
    broken_item = (
        MALFORMED_PATH,
        "某手机厂商发布新版语音助手",
        datetime.fromisoformat("2024-02-20T11:00:00+08:00"),
        "某手机厂商发布新版语音助手。",
    )
    write("/techdaily/rss.xml", rss(td, [broken_item]))
    write(MALFORMED_PATH, malformed_page())
    write("/techdaily/static/site.css", "body{font-family:sans-serif;max-width:60em;margin:auto}\n")
    write("/syndicate/rss.xml", rss(BY_SLUG["syndicate"]))
    write("/ai-ledger/atom.xml", atom(BY_SLUG["ai-ledger"]))
    write("/hk-techwire/sitemap.xml", news_sitemap(BY_SLUG["hk-techwire"]))
    header = "# Ground truth for the demo newsroom. Generated by demo/build_newsroom.py from demo/content/; do not edit.\n"
    expected_path.write_text(
        header + yaml.safe_dump(expected(), allow_unicode=True, sort_keys=False, width=120), encoding="utf-8"
    )
    counts = {o.slug: len(o.articles) for o in OUTLETS}
    print(f"built {sum(counts.values())} articles: {counts}; generated at {datetime.now(UTC):%H:%M:%S}Z")


if __name__ == "__main__":
    if len(sys.argv) == 3:  # build_newsroom.py OUT_DIR EXPECTED_FILE (used by the tests)
        build(Path(sys.argv[1]), Path(sys.argv[2]))
    else:
        build()
