"""The IPython fronts: magics, option parsing, the input transformer, interpolation, attachments, explain, capture."""
