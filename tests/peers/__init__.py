"""Real peers for the live tests (Prosody, Kamailio, sipp), started on 127.0.0.1 on free ports and stopped by
PID. Each module writes its peer's configuration into a temporary directory; nothing here is a mock."""
