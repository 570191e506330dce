"""The database's tables, and the scripts that upgrade an older database to them (each run in
one transaction; SQLite's `PRAGMA user_version`, PostgreSQL's `monitor_schema` table, say which
schema a database has). Written in SQLite's words; `database.postgres_ddl` translates them.

Work that any instance may take (a due feed, a new item, a due alert) is claimed with a lease:
`lease_owner` took it until `lease_until`, after which another instance may (its owner died);
`lease_token` counts the claims, so that the write finishing the work can tell whether it still
holds it (fencing: a process frozen past its lease finds its token outdated)."""

SCHEMA_VERSION = 15

INSTANCES = """
-- Each running process (by its lease owner) writes its heartbeat here: proof that the database
-- takes writes (/healthz), and which instances are alive.
CREATE TABLE instances (
    owner TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    started_at REAL NOT NULL,
    beat_at REAL NOT NULL
);
"""

SCHEMA = """
-- Named numbers: the story index's bookkeeping (`stories.py`); `stories` counted assignments
-- until schema 14, when instances read each other's from it.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('stories', 0);
CREATE TABLE stories (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    merged_into INTEGER,  -- set when a later article bridged it into an older story
    merge_seq INTEGER,  -- unused since schema 14 (was: the assignment that merged it)
    muted_at REAL  -- set while a user keeps it quiet: no alert of any kind for it
);
CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    fetch_url TEXT,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    next_check REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_attempt REAL,
    last_success REAL,
    last_new_item REAL,
    stale_since REAL,
    added_at REAL,
    warning TEXT,  -- what was wrong with its last parsed document, entries read all the same
    polls INTEGER NOT NULL DEFAULT 0,  -- successful polls ...
    not_modified INTEGER NOT NULL DEFAULT 0,  -- ... of which answered 304 (or the same bytes)
    lease_owner TEXT,
    lease_until REAL,
    lease_token INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,  -- in the config, and not disabled there
    host_rank INTEGER NOT NULL DEFAULT 0  -- its place among its host's feeds in the config
);
-- Claims take due feeds host by host in turn (one per host, then a second per host...), the
-- most overdue first, reading no more of the index than they claim.
CREATE INDEX feeds_due ON feeds(next_check, host_rank, url) WHERE enabled = 1;
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    feed_url TEXT NOT NULL,
    guid TEXT,
    link TEXT,
    title TEXT NOT NULL,
    title_words TEXT NOT NULL DEFAULT '',  -- its title folded (case, accents, elisions), spaced
    summary TEXT NOT NULL,
    published REAL,
    seen_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'done')),
    outlet TEXT,
    language TEXT,
    source TEXT,
    canonical_url TEXT,
    story_id INTEGER REFERENCES stories(id),
    story_reason TEXT,
    story_evidence TEXT,  -- the words it shares with its story, as written (`dedup.evidence`)
    story_score REAL,
    matched_rules TEXT,
    processed_at REAL,
    page_tries INTEGER NOT NULL DEFAULT 0,  -- fetches of its page that failed for a while
    page_retry_at REAL,  -- completed from its summary; its page is tried again then
    tries INTEGER NOT NULL DEFAULT 0,  -- attempts to complete it that raised
    retry_at REAL,  -- not before then, after such an attempt
    old INTEGER NOT NULL DEFAULT 0,  -- listed by its feed's first poll, older than poll.backfill
    done_seq INTEGER,  -- unused since schema 14 (was: the assignment that completed it)
    lease_owner TEXT,
    lease_until REAL,
    lease_token INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX items_done_seq ON items(done_seq) WHERE done_seq IS NOT NULL;
CREATE INDEX items_leased ON items(lease_owner) WHERE lease_until IS NOT NULL;
CREATE INDEX items_new ON items(state) WHERE state = 'new';
CREATE INDEX items_story_window ON items(processed_at) WHERE story_id IS NOT NULL;
CREATE INDEX items_story ON items(story_id);
CREATE INDEX items_page_retry ON items(page_retry_at) WHERE page_retry_at IS NOT NULL;
CREATE INDEX items_feed ON items(feed_url, seen_at);  -- a feed's latest items (the console)
CREATE INDEX items_matched ON items(processed_at) WHERE matched_rules != '[]';  -- rules' counts
-- What retention removes lives in a table of its own: deleting its oldest rows frees whole pages,
-- which new rows then reuse; slimming rows of `items` in place left pages part-empty for good.
CREATE TABLE articles (
    item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
-- The story index (`stories.py`): each article completed within two windows, under each of its
-- names (`storyindex.lookup`: text hash, LSH buckets, heaviest terms, events). No foreign key,
-- as item_keys: its rows are written and deleted with their item's fingerprint.
CREATE TABLE story_postings (
    name INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (name, item_id)
) WITHOUT ROWID;
CREATE TABLE item_keys (  -- no foreign key: see upgrade 11
    key TEXT PRIMARY KEY,
    item_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    story_id INTEGER REFERENCES stories(id),  -- NULL for operational alerts (stale feeds)
    item_id INTEGER REFERENCES items(id),
    rule TEXT NOT NULL,  -- every rule the message names, comma-separated
    channel TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'alert' CHECK (kind IN ('alert', 'followup')),
    outlet TEXT NOT NULL DEFAULT '',
    priority TEXT NOT NULL DEFAULT 'normal',
    title TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    batch INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    expires_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL,
    subject TEXT NOT NULL DEFAULT '',  -- '' for a story's alert, the item's id for a follow-up
    lease_owner TEXT,
    lease_until REAL,
    lease_token INTEGER NOT NULL DEFAULT 0,
    UNIQUE (story_id, channel, kind, subject)  -- one alert per story and channel
);
CREATE INDEX alerts_due ON alerts(next_attempt) WHERE status = 'pending';
CREATE INDEX alerts_leased ON alerts(lease_owner) WHERE lease_until IS NOT NULL;
CREATE INDEX alerts_story ON alerts(story_id);
CREATE INDEX alerts_created ON alerts(created_at);
CREATE INDEX stories_last_seen ON stories(last_seen);
CREATE TABLE feed_days (  -- each feed's polls and failures per day (UTC), for the console
    feed_url TEXT NOT NULL,
    day INTEGER NOT NULL,  -- days since 1970-01-01
    polls INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (feed_url, day)
) WITHOUT ROWID;
CREATE INDEX stories_merged ON stories(merged_into) WHERE merged_into IS NOT NULL;
-- Which target (one URL of a channel, or its Apprise config file) already has an alert: a
-- channel whose second URL is down must not get the first one again at every retry.
CREATE TABLE deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    target TEXT NOT NULL,  -- a digest of the URL: no secret in the database
    delivered_at REAL NOT NULL,
    PRIMARY KEY (alert_id, target)
) WITHOUT ROWID;
""" + INSTANCES

UPGRADES = {  # from schema N to N + 1
    # Article texts and fingerprints move to a table of their own (retention then frees whole
    # pages). Version 1's MinHash signatures came from datasketch and cannot be compared with
    # ours: kept without them, those articles still join stories by text hash, title and names.
    1: """
CREATE TABLE articles (
    item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
INSERT INTO articles (item_id, text, fingerprint)
    SELECT id, text, json_set(fingerprint, '$.minhash', NULL) FROM items
    WHERE text IS NOT NULL AND fingerprint IS NOT NULL;
ALTER TABLE items DROP COLUMN text;
ALTER TABLE items DROP COLUMN fingerprint;
""",
    # One alert per story and channel (it names every rule), one follow-up per later article;
    # stories can be merged. Alerts queued before keep their own key: their rule (or outlet).
    # (The table as it was then: the leases come with 10.)
    2: """
ALTER TABLE stories ADD COLUMN merged_into INTEGER;
CREATE INDEX stories_merged ON stories(merged_into) WHERE merged_into IS NOT NULL;
ALTER TABLE alerts RENAME TO alerts_v2;
DROP INDEX alerts_due;
DROP INDEX alerts_story;
DROP INDEX alerts_created;
""" + SCHEMA[SCHEMA.index("CREATE TABLE alerts"):SCHEMA.index("CREATE INDEX stories_last_seen")
          ].replace("    lease_owner TEXT,\n    lease_until REAL,\n    lease_token INTEGER NOT NULL "
                    "DEFAULT 0,\n", "").replace(
              "CREATE INDEX alerts_leased ON alerts(lease_owner) WHERE lease_until IS NOT NULL;\n",
              "") + """
INSERT INTO alerts (id, story_id, item_id, rule, channel, kind, outlet, priority, title, payload,
                    status, batch, attempts, next_attempt, expires_at, last_error, created_at,
                    delivered_at, subject)
    SELECT id, story_id, item_id, rule, channel, kind, outlet, priority, title, payload, status,
           batch, attempts, next_attempt, expires_at, last_error, created_at, delivered_at,
           rule || '/' || outlet FROM alerts_v2;
DROP TABLE alerts_v2;
""",
    3: SCHEMA[SCHEMA.index("CREATE TABLE deliveries"):SCHEMA.index(INSTANCES)],
    4: """
ALTER TABLE items ADD COLUMN page_tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN page_retry_at REAL;
CREATE INDEX items_page_retry ON items(page_retry_at) WHERE page_retry_at IS NOT NULL;
""",
    # An item whose completion raised waits before it is tried again (it was retried every tick).
    5: """
ALTER TABLE items ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN retry_at REAL;
""",
    # Old news listed by a feed's first poll: stored and matched, never alerted on.
    6: "ALTER TABLE items ADD COLUMN old INTEGER NOT NULL DEFAULT 0;",
    # A feed read in spite of errors (truncated, invalid XML) says so.
    7: "ALTER TABLE feeds ADD COLUMN warning TEXT;",
    # The console shows how often a feed's validators spare a download, and its latest items.
    8: """
ALTER TABLE feeds ADD COLUMN polls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN not_modified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX items_feed ON items(feed_url, seen_at);
CREATE INDEX items_matched ON items(processed_at) WHERE matched_rules != '[]';
ALTER TABLE items ADD COLUMN title_words TEXT NOT NULL DEFAULT '';
UPDATE items SET title_words = monitor_title_words(title);
""",
    # Several instances on one (PostgreSQL) database: leases on work, numbered assignments.
    9: """
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('stories', 0);
ALTER TABLE stories ADD COLUMN merge_seq INTEGER;
ALTER TABLE items ADD COLUMN done_seq INTEGER;
CREATE INDEX items_done_seq ON items(done_seq) WHERE done_seq IS NOT NULL;
ALTER TABLE feeds ADD COLUMN lease_owner TEXT;
ALTER TABLE feeds ADD COLUMN lease_until REAL;
ALTER TABLE items ADD COLUMN lease_owner TEXT;
ALTER TABLE items ADD COLUMN lease_until REAL;
ALTER TABLE alerts ADD COLUMN lease_owner TEXT;
ALTER TABLE alerts ADD COLUMN lease_until REAL;
CREATE INDEX items_leased ON items(lease_owner) WHERE lease_until IS NOT NULL;
CREATE INDEX alerts_leased ON alerts(lease_owner) WHERE lease_until IS NOT NULL;
""",
    # Fencing: each claim numbered, checked by the write that finishes the work; heartbeats;
    # claims of due feeds interleaving hosts, read from an index.
    10: """
ALTER TABLE feeds ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE feeds ADD COLUMN host_rank INTEGER NOT NULL DEFAULT 0;
CREATE INDEX feeds_due ON feeds(next_check, host_rank, url) WHERE enabled = 1;
""" + INSTANCES,
    # An item's keys lose their foreign key: PostgreSQL checked it by locking the item's row for
    # each key inserted, a WAL record each (a third of the server's CPU in a poll that stores
    # 30 items). Items are deleted in one place, which deletes their keys first.
    11: """
CREATE TABLE item_keys_12 (
    key TEXT PRIMARY KEY,
    item_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO item_keys_12 (key, item_id) SELECT key, item_id FROM item_keys;
DROP TABLE item_keys;
ALTER TABLE item_keys_12 RENAME TO item_keys;
""",
    # Why an article joined its story, in its own words (« Meurtre de Louise »), not stems.
    12: "ALTER TABLE items ADD COLUMN story_evidence TEXT;",
    # The story index moves from the daemon's memory to the database; the articles of the
    # window are filed at the first completion (`StoredStories.rebuild_if_needed`).
    13: SCHEMA[SCHEMA.index("-- The story index"):SCHEMA.index("CREATE TABLE item_keys")]
    + "INSERT INTO counters (name, value) VALUES ('postings_rebuild', 1);\n",
    # A story a user muted (`monitor stories mute`, the console) raises no more alerts; each
    # feed's polls and failures per day, for the console's picture of its week.
    14: "ALTER TABLE stories ADD COLUMN muted_at REAL;\n"
    + SCHEMA[SCHEMA.index("CREATE TABLE feed_days"):SCHEMA.index("CREATE INDEX stories_merged")],
}
