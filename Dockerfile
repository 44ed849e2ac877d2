# One image for every Python service (worker, beat, crawler, api); the command picks the role.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SHELLWATCH_DATA_DIR=/data

# WeasyPrint needs Pango; CJK fonts so Chinese renders in charts and PDF digests.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-zenhei curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shellwatch ./shellwatch
COPY crawlers ./crawlers
COPY workers ./workers
COPY nlp ./nlp
COPY search ./search
COPY alerts ./alerts
COPY digests ./digests
COPY web ./web
COPY scrapy.cfg ./
RUN pip install '.[services]'

RUN useradd --create-home --uid 10001 shellwatch && mkdir -p /data && chown shellwatch /data
USER shellwatch
VOLUME ["/data"]
EXPOSE 8000
CMD ["shellwatch", "serve", "--host", "0.0.0.0", "--port", "8000"]
