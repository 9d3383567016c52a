-- Prosody 0.12 for coin-gateway (docker-compose.yml), matching config.example.toml: the gateway's XEP-0114
-- component "sip.example.org" on 127.0.0.1:5347 with its secret, and the users' domain "example.org" (the
-- example room "standup" is backed by the mixer mixer@example.org/desk). Loopback only, no TLS: give it
-- certificates and other interfaces before letting clients reach it from elsewhere.
pidfile = "/run/prosody/prosody.pid"
data_path = "/var/lib/prosody"
log = { info = "*console" }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
component_ports = { 5347 }
component_interface = "127.0.0.1"
http_ports = { }
https_ports = { }
modules_enabled = { "roster", "saslauth", "disco", "ping" }
modules_disabled = { "s2s", "tls", "offline", "c2s_direct_tls", "http" }
certificates = "/etc/prosody/certs"
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"

VirtualHost "example.org"

Component "sip.example.org"
    component_secret = "change-me"
