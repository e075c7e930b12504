"""Generative adversarial networks: losses, penalties and consensus optimization (issue 4, in progress)."""
