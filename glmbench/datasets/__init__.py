"""Datasets that turn into benchmark requests: ShareGPT and random synthetic prompts."""
