-- SRTP (SDES) toward a carrier: 'optional' (plain RTP offered; SRTP answered
-- when the carrier offers it) or 'required' (only SRTP, plain RTP refused).
ALTER TABLE carriers ADD COLUMN srtp TEXT NOT NULL DEFAULT 'optional'
    CHECK (srtp IN ('optional', 'required'));
