-- Every node caches each organization's hooks (a sign-in asks for the claims hook, a
-- registration for `before_user_created`), including that an organization has none: a hook
-- set, changed or removed is announced to all ('*'), as an organization's change is.
CREATE OR REPLACE FUNCTION portcullis_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec RECORD;
    who TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        rec := OLD;
    ELSE
        rec := NEW;
    END IF;
    IF TG_TABLE_NAME IN ('organizations', 'oauth_clients', 'hooks') THEN
        who := '*';
    ELSIF TG_TABLE_NAME = 'users' THEN
        who := rec.id;
    ELSE
        who := rec.user_id;
    END IF;
    PERFORM pg_notify('portcullis_' || current_schema(), who);
    RETURN NULL;
END
$$;

CREATE TRIGGER hooks_announce AFTER INSERT OR UPDATE OR DELETE ON hooks
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
