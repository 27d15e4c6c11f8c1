-- ballast journal, version 2: human-friendly views for sqlite3 readers.
-- Decimal text columns are shown as REAL here (for reading; the tables hold the exact values).

-- Every job run with the process that ran it, in session and chain order.
CREATE VIEW v_runs AS
SELECT j.session_date,
       j.job,
       j.status,
       j.error,
       j.detail,
       j.started_at,
       j.finished_at,
       r.command,
       r.mode,
       j.id AS job_run_id,
       r.id AS run_id
FROM job_runs j
JOIN runs r ON r.id = j.run_id
ORDER BY j.session_date,
         CASE j.job WHEN 'data-update' THEN 1 WHEN 'signals' THEN 2 ELSE 3 END;

-- Orders with readable numbers, how much is filled and the last event.
CREATE VIEW v_orders AS
SELECT o.id,
       o.session_date,
       o.leg,
       o.symbol,
       o.side,
       CAST(o.qty AS REAL) AS qty,
       CAST(o.filled_qty AS REAL) AS filled_qty,
       ROUND(CAST(o.filled_qty AS REAL) / NULLIF(CAST(o.qty AS REAL), 0), 4) AS filled_fraction,
       CAST(o.filled_avg_price AS REAL) AS avg_price,
       CAST(o.ref_price AS REAL) AS ref_price,
       CAST(o.notional AS REAL) AS notional,
       o.status,
       e.event AS last_event,
       e.at AS last_event_at,
       o.reason,
       o.client_order_id,
       o.broker_order_id,
       o.created_at,
       o.updated_at,
       o.job_run_id
FROM orders o
LEFT JOIN order_events e
       ON e.id = (SELECT MAX(id) FROM order_events WHERE order_id = o.id)
ORDER BY o.session_date, o.leg;

-- Order events with the order they belong to.
CREATE VIEW v_order_events AS
SELECT e.id,
       e.order_id,
       o.client_order_id,
       o.session_date,
       o.symbol,
       o.side,
       e.at,
       e.event,
       CAST(e.qty AS REAL) AS qty,
       CAST(e.price AS REAL) AS price,
       CAST(e.commission AS REAL) AS commission,
       e.detail
FROM order_events e
JOIN orders o ON o.id = e.order_id
ORDER BY e.id;

-- Equity curve: return since the previous snapshot and drawdown from the running peak.
CREATE VIEW v_equity AS
WITH e AS (
    SELECT session_date, CAST(equity AS REAL) AS equity, CAST(cash AS REAL) AS cash
    FROM equity_snapshots
)
SELECT session_date,
       equity,
       cash,
       ROUND(equity / NULLIF(LAG(equity) OVER w, 0) - 1, 6) AS daily_return,
       MAX(equity) OVER w AS peak,
       ROUND(equity / NULLIF(MAX(equity) OVER w, 0) - 1, 6) AS drawdown
FROM e
WINDOW w AS (ORDER BY session_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY session_date;

-- Positions of the latest snapshot, with the targets in force on that session.
CREATE VIEW v_positions AS
WITH s AS (
    SELECT id, session_date FROM equity_snapshots ORDER BY session_date DESC LIMIT 1
), t AS (
    SELECT symbol, weight FROM targets
    WHERE session_date = (SELECT MAX(session_date) FROM targets
                          WHERE session_date <= (SELECT session_date FROM s))
)
SELECT s.session_date,
       p.symbol,
       CAST(p.qty AS REAL) AS qty,
       CAST(p.price AS REAL) AS price,
       CAST(p.market_value AS REAL) AS market_value,
       ROUND(p.weight, 4) AS weight,
       CAST(t.weight AS REAL) AS target_weight,
       ROUND(p.weight - COALESCE(CAST(t.weight AS REAL), 0), 4) AS drift
FROM s
JOIN position_snapshots p ON p.snapshot_id = s.id
LEFT JOIN t ON t.symbol = p.symbol
ORDER BY p.symbol;

-- Targets of each session with that session's rebalance decision.
CREATE VIEW v_targets AS
SELECT t.session_date,
       t.strategy,
       t.symbol,
       CAST(t.weight AS REAL) AS weight,
       d.rebalance,
       d.reason AS decision,
       ROUND(d.max_drift, 4) AS max_drift,
       d.drift_symbol
FROM targets t
LEFT JOIN rebalance_decisions d ON d.session_date = t.session_date
ORDER BY t.session_date, t.symbol;
