"""Records: the documents datakeep stores (snapshot manifests, commits) and the refs and config
files beside them. Each is a value with one canonical encoding."""
