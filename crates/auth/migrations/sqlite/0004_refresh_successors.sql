-- Each rotated refresh token names the successor it was exchanged for. A rotated token presented again after the
-- grace window is reuse of a stolen token only if that successor was used since; if it never was, the client lost
-- the answer that carried it (a crash) and is issued another (docs/adr/0005, "A lost answer is not theft").
ALTER TABLE refresh_token ADD COLUMN successor_hash TEXT;
