"""Model families (PIXEL, PIXAR thesis, PIXAR-2024, PixelGPT, text baselines) and the adapter interface."""
