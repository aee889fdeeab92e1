-- 0024_visitor_windows: the window a visitor asked to be called in ("today 14:00-15:00").
--
-- The request's first call is scheduled at the first instant of the window, not before
-- the verification, at which its department is open (domain/callbacks/OpeningHours.ts
-- `firstOpenInWindow`); a window that never meets the opening hours within 14 days is
-- refused when the request is made (422 window-unavailable). NULL: as soon as possible.

ALTER TABLE callback_requests
  ADD COLUMN window_start timestamptz,
  ADD COLUMN window_end   timestamptz,
  ADD CONSTRAINT callback_requests_window CHECK ((window_start IS NULL) = (window_end IS NULL) AND (window_start IS NULL OR window_end > window_start));
