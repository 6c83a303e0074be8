"""hfdl: a systemd-native, scheduled Hugging Face model downloader."""

__version__ = "0.1.0"
