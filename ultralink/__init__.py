"""UltraLink on Ray: multilingual SFT data generation as a distributed batch job."""

__version__ = "0.1.0"
