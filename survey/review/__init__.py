"""The local review web app of ``survey review``."""
