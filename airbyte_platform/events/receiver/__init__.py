"""The webhook receiver: `python -m airbyte_platform.events.receiver` (started by `make dev`)."""

from airbyte_platform.events.receiver.app import build_receiver_app
from airbyte_platform.events.receiver.config import ReceiverConfig, receiver_config

__all__ = ["ReceiverConfig", "build_receiver_app", "receiver_config"]
