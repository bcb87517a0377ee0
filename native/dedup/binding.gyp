{
  "targets": [
    {
      "target_name": "dedup",
      "sources": ["src/addon.c", "src/table.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["../common"],
      "cflags_c": ["-std=gnu11", "-fvisibility=hidden"]
    }
  ]
}
