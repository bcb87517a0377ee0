{
  "targets": [
    {
      "target_name": "memory",
      "sources": ["src/memory.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["../common"],
      "cflags_c": ["-std=gnu11", "-fvisibility=hidden"]
    }
  ]
}
