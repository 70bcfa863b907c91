"""How replies are shown: linear-time markdown transforms, sanitizing, one streaming view with sinks, the footer."""
