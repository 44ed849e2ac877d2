"""Scrapy settings of the ShellWatch crawler (Scrapy's own layout, so `scrapy crawl news` works).

Politeness is set explicitly rather than left to framework defaults. `crawlers.run` overlays the
values that come from ShellWatch's configuration (User-Agent, log level, the state directory).
"""

BOT_NAME = "shellwatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

USER_AGENT = "ShellWatch/0.1 (+https://github.com/shellwatch/shellwatch; news monitoring)"
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"

# One busy domain must not starve the others, nor be hammered: two requests at a time per domain,
# AutoThrottle slowing down further when a site answers slowly.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
DOWNLOAD_DELAY_JITTER = 0.5  # ±50 %, so requests do not tick like a metronome
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# A hanging server costs at most this long; a huge page is cut off before it is held in memory.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_ENABLED = True
REDIRECT_MAX_TIMES = 5
METAREFRESH_ENABLED = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control opens a port that executes code and writes job files under
# ~/.local/state: neither belongs in a news crawler.
REMOTE_CONTROL_ENABLED = False
HTTPCACHE_ENABLED = False
DNS_TIMEOUT = 20

# Article pages before discovery pages, so a crawl stopped early has finished what it started.
DEPTH_PRIORITY = 0
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.RelevancePipeline": 150,
    "crawlers.pipelines.DedupePipeline": 200,
    "crawlers.pipelines.RememberPipeline": 300,
    "crawlers.pipelines.HandoffPipeline": 400,
}

# Where new articles go: "module:function" called as f(settings, article). Production hands them to
# the workers stage; SHELLWATCH_ARTICLES_JSONL set to a path writes them to that file instead
# (inspection, benchmarks, tests).
SHELLWATCH_HANDOFF = "workers.handoff:submit_article"
SHELLWATCH_ARTICLES_JSONL = None
# Listing pages followed per start URL in a normal run, and at most in a --since backfill.
SHELLWATCH_LISTING_PAGES = 3
SHELLWATCH_BACKFILL_PAGES = 500

# The check re-reads each callback's source on every response (a tenth of the crawl's time in a
# profile); the spider's callbacks are generators that return nothing.
WARN_ON_GENERATOR_RETURN_VALUE = False
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawlers.logformatter.ConciseLogFormatter"
