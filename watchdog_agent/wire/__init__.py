"""The JSON of the model, both ways: the field names the API serves and tests rely on
(``tojson``), and the agent's documents read back into model values (``fromjson``)."""
