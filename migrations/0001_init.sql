-- ballast journal, version 1: the base schema.
-- Dates are 'YYYY-MM-DD', timestamps ISO-8601 UTC text, and quantities, prices of
-- orders, cash and notionals exact decimal text (never REAL): CAST(x AS REAL) to read.

-- Daily price history, one row per symbol and session.
CREATE TABLE bars (
    symbol    TEXT NOT NULL CHECK (length(symbol) > 0),
    date      TEXT NOT NULL CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    open      REAL NOT NULL CHECK (open > 0),
    high      REAL NOT NULL CHECK (high > 0),
    low       REAL NOT NULL CHECK (low > 0),
    close     REAL NOT NULL CHECK (close > 0),
    adj_close REAL NOT NULL CHECK (adj_close > 0),
    volume    REAL NOT NULL CHECK (volume >= 0),
    source    TEXT NOT NULL,
    PRIMARY KEY (symbol, date)
) WITHOUT ROWID;

-- One process invocation (`ballast run`, `once`, `demo`, ...).
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    command     TEXT NOT NULL CHECK (length(command) > 0),
    mode        TEXT NOT NULL,
    config_path TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL DEFAULT 'running' CHECK (length(status) > 0)
);

-- One job of one trading session; a job never runs twice for a session (dry runs,
-- which place no order, are kept apart and may repeat).
CREATE TABLE job_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: client_order_ids embed it
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    session_date TEXT NOT NULL CHECK (session_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    job          TEXT NOT NULL CHECK (job IN ('data-update', 'signals', 'rebalance')),
    status       TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    error        TEXT,  -- why it failed or was skipped; NULL otherwise
    detail       TEXT,  -- one-line summary of what it did
    dry_run      INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE UNIQUE INDEX job_runs_once ON job_runs(session_date, job) WHERE dry_run = 0;
CREATE INDEX job_runs_session ON job_runs(session_date);
CREATE INDEX job_runs_run ON job_runs(run_id);
CREATE INDEX job_runs_status ON job_runs(status);

-- Strategy signals in [-1, 1].
CREATE TABLE signals (
    job_run_id   INTEGER NOT NULL REFERENCES job_runs(id),
    session_date TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    value        REAL NOT NULL CHECK (value BETWEEN -1 AND 1),
    PRIMARY KEY (session_date, strategy, symbol)
);

-- Target weights (fractions of equity) of a session, exact decimal text.
CREATE TABLE targets (
    job_run_id   INTEGER NOT NULL REFERENCES job_runs(id),
    session_date TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    weight       TEXT NOT NULL CHECK (length(weight) > 0 AND weight NOT GLOB '*[^0-9.+-]*'),
    PRIMARY KEY (session_date, symbol)
);

-- Whether the rebalance job decided to trade on a session, and why.
CREATE TABLE rebalance_decisions (
    job_run_id   INTEGER NOT NULL REFERENCES job_runs(id),
    session_date TEXT NOT NULL UNIQUE,
    rebalance    INTEGER NOT NULL CHECK (rebalance IN (0, 1)),
    reason       TEXT NOT NULL,
    max_drift    REAL NOT NULL CHECK (max_drift >= 0),
    drift_symbol TEXT  -- symbol with the largest drift; NULL when none
);

-- Orders, written (status 'intent') before they are sent to the broker.
CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    client_order_id  TEXT NOT NULL UNIQUE CHECK (length(client_order_id) BETWEEN 1 AND 48),
    broker_order_id  TEXT,
    job_run_id       INTEGER NOT NULL REFERENCES job_runs(id),
    session_date     TEXT NOT NULL CHECK (session_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    leg              INTEGER NOT NULL CHECK (leg >= 0),
    symbol           TEXT NOT NULL CHECK (length(symbol) > 0),
    side             TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty              TEXT NOT NULL CHECK (qty NOT GLOB '*[^0-9.+-]*' AND CAST(qty AS REAL) > 0),
    ref_price        TEXT NOT NULL CHECK (length(ref_price) > 0 AND ref_price NOT GLOB '*[^0-9.+-]*'),
    notional         TEXT NOT NULL CHECK (length(notional) > 0 AND notional NOT GLOB '*[^0-9.+-]*'),
    reason           TEXT NOT NULL DEFAULT '',
    -- ours (intent, submitted, denied, dry_run) and every status Alpaca reports
    status           TEXT NOT NULL CHECK (status IN ('intent', 'submitted', 'denied', 'dry_run',
                                                     'new', 'accepted', 'pending_new', 'accepted_for_bidding',
                                                     'partially_filled', 'filled', 'done_for_day', 'canceled',
                                                     'expired', 'replaced', 'pending_cancel', 'pending_replace',
                                                     'stopped', 'rejected', 'suspended', 'calculated', 'held')),
    filled_qty       TEXT NOT NULL DEFAULT '0' CHECK (length(filled_qty) > 0 AND filled_qty NOT GLOB '*[^0-9.+-]*'),
    filled_avg_price TEXT CHECK (filled_avg_price NOT GLOB '*[^0-9.+-]*'),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX orders_session ON orders(session_date);
CREATE INDEX orders_status ON orders(status);
CREATE INDEX orders_job_run ON orders(job_run_id);

-- Everything that happened to an order, in order. Append-only.
CREATE TABLE order_events (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id),
    at         TEXT NOT NULL,
    event      TEXT NOT NULL CHECK (length(event) > 0 AND event NOT GLOB '*[^a-z_]*'),
    qty        TEXT CHECK (qty NOT GLOB '*[^0-9.+-]*'),         -- filled quantity of this event
    price      TEXT CHECK (price NOT GLOB '*[^0-9.+-]*'),       -- fill price
    commission TEXT CHECK (commission NOT GLOB '*[^0-9.+-]*'),
    detail     TEXT
);
CREATE INDEX order_events_order ON order_events(order_id, id);
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN
    SELECT RAISE(ABORT, 'order_events is append-only');
END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN
    SELECT RAISE(ABORT, 'order_events is append-only');
END;

-- Account value at the end of a session (one per session; a later one replaces it).
CREATE TABLE equity_snapshots (
    id           INTEGER PRIMARY KEY,
    job_run_id   INTEGER REFERENCES job_runs(id),  -- NULL when taken outside a job
    session_date TEXT NOT NULL UNIQUE CHECK (session_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    at           TEXT NOT NULL,
    cash         TEXT NOT NULL CHECK (length(cash) > 0 AND cash NOT GLOB '*[^0-9.+-]*'),
    equity       TEXT NOT NULL CHECK (length(equity) > 0 AND equity NOT GLOB '*[^0-9.+-]*')
);

-- The positions of an equity snapshot.
CREATE TABLE position_snapshots (
    snapshot_id  INTEGER NOT NULL REFERENCES equity_snapshots(id) ON DELETE CASCADE,
    symbol       TEXT NOT NULL CHECK (length(symbol) > 0),
    qty          TEXT NOT NULL CHECK (length(qty) > 0 AND qty NOT GLOB '*[^0-9.+-]*'),
    price        TEXT NOT NULL CHECK (length(price) > 0 AND price NOT GLOB '*[^0-9.+-]*'),
    market_value TEXT NOT NULL CHECK (length(market_value) > 0 AND market_value NOT GLOB '*[^0-9.+-]*'),
    weight       REAL NOT NULL,
    PRIMARY KEY (snapshot_id, symbol)
);

-- Operational events: broker errors, breaker trips, stale data, alerts, ...
CREATE TABLE health_events (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    component TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (length(kind) > 0),
    detail    TEXT
);
CREATE INDEX health_events_kind ON health_events(kind);
CREATE INDEX health_events_at ON health_events(at);

-- Flags in force (a row exists only while set), e.g. name 'halt'.
CREATE TABLE control_flags (
    name   TEXT PRIMARY KEY CHECK (name IN ('halt')),
    value  TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_at TEXT NOT NULL,
    set_by TEXT NOT NULL
);

-- History of halts and resumes.
CREATE TABLE control_events (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('halt', 'resume')),
    reason TEXT,
    actor  TEXT NOT NULL
);
