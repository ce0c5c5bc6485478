"""The demo project's settings on channels_redis' pub/sub layer (``--layer pubsub``)."""

from demo.settings import *  # noqa: F403

CHANNEL_LAYERS["default"]["BACKEND"] = "channels_redis.pubsub.RedisPubSubChannelLayer"  # noqa: F405
