"""One request's life: the validated spec, the request, the engine, streaming, the client and error mapping."""
