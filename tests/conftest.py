"""Test-wide settings: offline, CPU, quiet."""
import os

# Nothing may touch the network: open_clip / huggingface_hub fail fast instead of retrying.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('HF_DATASETS_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
