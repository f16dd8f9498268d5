"""Packed datasets: every image decoded once into one memory-mappable uint8 array per split."""
