-- The embedded store schema at version 3 (search/backends/sqlite.py before claim filters moved
-- onto the article row), for the upgrade test. Do not edit: it is what existing files contain.
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    published_at TEXT NOT NULL,  -- UTC 'YYYY-MM-DDTHH:MM:SS', the fetch time when no date is known
    language TEXT NOT NULL,
    source TEXT NOT NULL COLLATE NOCASE
);
-- The stored JSON lives apart so that `articles` rows stay small: filters and facets touch many
-- rows, the JSON is read only for the page of results shown.
CREATE TABLE IF NOT EXISTS article_payloads (rowid INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE TABLE IF NOT EXISTS article_entities (
    entity TEXT NOT NULL, article INTEGER NOT NULL, PRIMARY KEY (entity, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_entities_article ON article_entities(article);
CREATE TABLE IF NOT EXISTS claims (
    article INTEGER NOT NULL, type TEXT NOT NULL, stance TEXT NOT NULL, depth INTEGER,
    subject TEXT, confidence REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_article ON claims(article, type, stance, depth);  -- covers the facets
CREATE INDEX IF NOT EXISTS claims_type ON claims(type, stance, article);
CREATE INDEX IF NOT EXISTS claims_stance ON claims(stance, article);
CREATE INDEX IF NOT EXISTS claims_depth ON claims(depth, article);
CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5(title, body, entities, tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, subject TEXT, subject_org TEXT, started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_started ON incidents(started_at);
CREATE TABLE IF NOT EXISTS incident_articles (
    incident TEXT NOT NULL, article TEXT NOT NULL,
    published_at TEXT,  -- the article's, copied so timelines need no article lookups
    PRIMARY KEY (incident, article)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incident_articles_article ON incident_articles(article);
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, subscription_id TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_subscription ON alerts(subscription_id);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, channel TEXT NOT NULL,
    subscription_id TEXT NOT NULL, delivered INTEGER NOT NULL, payload TEXT NOT NULL,
    UNIQUE (alert_id, channel)
);
CREATE TABLE IF NOT EXISTS dead_letters (id TEXT PRIMARY KEY, failed_at TEXT NOT NULL, payload TEXT NOT NULL);
PRAGMA user_version = 3;
