"""A strict local emulator of TikTok's Login Kit, OAuth token endpoints and Display API user info.

Nothing in this package talks to TikTok. See ``app.py`` for the factory and each module's docstring for the choices
made where TikTok's documentation is silent.
"""

from .app import create_emulator
from .config import LEGACY_LIFETIMES, EmulatedUser, EmulatorConfig, default_users
from .remote import EmulatorRemote
from .server import EmulatorServer, start_emulator
from .state import EmulatorState

__all__ = [
    "LEGACY_LIFETIMES", "EmulatedUser", "EmulatorConfig", "EmulatorRemote", "EmulatorServer", "EmulatorState",
    "create_emulator", "default_users", "start_emulator",
]
