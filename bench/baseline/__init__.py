"""The least a webhook can do: verify the HMAC and insert one row per event (no app, no model)."""

TABLE = "bench_baseline_event"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(id bigserial PRIMARY KEY, page_id varchar(40) NOT NULL, payload jsonb NOT NULL, received_at timestamptz NOT NULL)"
)
