{
  "targets": [
    {
      "target_name": "codec",
      "sources": ["src/spans.c", "src/json_grammar.c", "src/envelope.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["../common"],
      "cflags_c": ["-std=gnu11", "-fvisibility=hidden", "-O2"]
    }
  ]
}
