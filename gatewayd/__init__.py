"""The gateway daemon: wires the core (`gateway`), the SIP adapter (`sip`) and the XMPP adapter (`xmpp`)
together. `coin-gateway run --config FILE` starts it."""
