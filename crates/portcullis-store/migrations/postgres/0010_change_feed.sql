-- The change feed that keeps every node's session cache true: any change to what a session
-- check reads is announced on channel 'portcullis_<schema>' with the user's id, or '*' for
-- an organization (which may concern all its users). Delivered at commit, once per payload.
CREATE FUNCTION portcullis_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec RECORD;
    who TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        rec := OLD;
    ELSE
        rec := NEW;
    END IF;
    IF TG_TABLE_NAME = 'organizations' THEN
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

CREATE TRIGGER users_announce AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
CREATE TRIGGER user_roles_announce AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
CREATE TRIGGER sessions_announce AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
CREATE TRIGGER organizations_announce AFTER UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION portcullis_announce();
