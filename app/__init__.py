"""Rekurator: curate face collections the way Amazon Rekognition models them."""

__version__ = "0.1.0"
