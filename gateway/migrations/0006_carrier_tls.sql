-- TLS carriers: a CA (PEM) the carrier's certificate must chain to, when
-- the usual public roots are not to be trusted for it.
ALTER TABLE carriers ADD COLUMN tls_ca TEXT;
