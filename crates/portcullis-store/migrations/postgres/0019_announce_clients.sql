-- OAuth clients are cached by every node (the token and introspection endpoints read one at
-- every call): a change to one is announced to all ('*'), as an organization's is.
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
    IF TG_TABLE_NAME IN ('organizations', 'oauth_clients') THEN
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

CREATE TRIGGER oauth_clients_announce AFTER UPDATE OR DELETE ON oauth_clients
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
