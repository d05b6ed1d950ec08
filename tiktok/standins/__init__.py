"""Local stand-ins for third-party services, served on 127.0.0.1 for tests and for emulator mode."""
