-- 0019_rate_take: a rate-limit check and its events in one round trip, for any
-- number of buckets at once. Each bucket is locked (an advisory lock, in name
-- order, so two callers never deadlock) before it is counted; in a function
-- each statement reads a fresh snapshot, so the count sees every event
-- committed by the lock's previous holder. Called on its own (autocommit) the
-- locks end with the call, and a create no longer holds its address's lock
-- until its transaction commits; inside a transaction they are held to its
-- end, as before. The events are recorded only when every bucket has room;
-- the full ones are returned with how long until each has room again.

CREATE FUNCTION rate_take(p_buckets text[], p_limits integer[], p_windows float8[], p_ref uuid)
RETURNS TABLE (full_bucket text, wait_ms float8) LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  v_blocking timestamptz;
  v_full boolean := false;
BEGIN
  FOR i IN SELECT u.ord FROM unnest(p_buckets) WITH ORDINALITY AS u(name, ord) ORDER BY u.name LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended('switchboard:rate:' || p_buckets[i], 0));
    -- the limit-th newest event in the window: while it is in the window, the bucket is full
    SELECT e.at INTO v_blocking FROM rate_events e
     WHERE e.bucket = p_buckets[i] AND e.at > now() - make_interval(secs => p_windows[i])
     ORDER BY e.at DESC OFFSET p_limits[i] - 1 LIMIT 1;
    IF FOUND THEN
      full_bucket := p_buckets[i];
      wait_ms := greatest(0, extract(epoch FROM (v_blocking + make_interval(secs => p_windows[i]) - now())) * 1000);
      v_full := true;
      RETURN NEXT;
    END IF;
  END LOOP;
  IF NOT v_full THEN
    INSERT INTO rate_events (bucket, ref) SELECT unnest(p_buckets), p_ref;
  END IF;
  RETURN;
END
$$;
