"""Local HTTP stand-ins for the Telegram Bot API and the WeChat official-account API, for tests and benchmarks."""
