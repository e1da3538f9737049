"""Generative evaluation (LAMBADA, bAbI): generate pixels, read them back with OCR, score.

Modules: :mod:`.prompts` (render the prompt, shift it to leave PIXAR's 3 px space),
:mod:`.decode` (greedy generation with a KV cache, batched, per model family),
:mod:`.ocr` (Tesseract and RapidOCR), :mod:`.scoring` (first word, PIXAR-compatible and
corrected scores, readability), :mod:`.vocab` (the known-word list), :mod:`.sheet` (images and
the contact sheet for ``--save-generations``) and :mod:`.evaluate` (one result record per cell).
Nothing here is imported by ``pixel-bench --help``; torch is imported only by :mod:`.decode`.
"""
