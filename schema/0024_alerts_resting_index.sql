-- 0024: the alerts a target rests behind, found without reading its held alerts.
--
-- After a failed attempt a target rests until that alert's next attempt: the dispatcher's due
-- query (service/alert_dispatcher.cpp) returns nothing for a target with a pending alert that
-- was attempted and is due later. Through alerts_outbox_due (0004) that look read every
-- pending alert of the target due later — with alert-hold, each churn held back, up to a
-- day's worth — to find the attempted ones, at every poll (5 a second per target). This index
-- holds only pending alerts an attempt began on: about one per target.
CREATE INDEX alerts_outbox_resting ON alerts_outbox (target, next_attempt_us)
WHERE status = 'pending' AND last_attempt_us IS NOT NULL;
