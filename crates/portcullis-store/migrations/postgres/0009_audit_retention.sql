-- Audit retention deletes by time.
CREATE INDEX audit_events_at ON audit_events (at);
