"""What people give the model: text, series and tables, vocabularies, and the corpus that ships.

    data.py         text and the synthetic tasks, validated into tensors; Vocab
    corpus.py       Tiny Shakespeare, shipped gzipped inside the package (the Train tab's default text)
    series.py       CSV tables (numeric and label columns), scalers (fitted, or a checkpoint's own)
    tokens.py       a foreign model's own vocabulary (JSON, text, pickled dictionaries)

Imports: explorer.errors and io/files.py (the one-sentence file name); nothing from readers or models.
"""
