"""Clients of launched Seamless services; activation code for persistent mode is not built yet."""
