{
  "variables": {
    "rdkafka": "<(module_root_dir)/../../node_modules/node-rdkafka"
  },
  "targets": [
    {
      "target_name": "producer",
      "sources": ["src/producer.c"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["../common", "<(rdkafka)/deps/librdkafka/src"],
      "cflags_c": ["-std=gnu11", "-fvisibility=hidden", "-O2"],
      "libraries": [
        "-L<(rdkafka)/build/deps",
        "-lrdkafka",
        "-lpthread",
        "-Wl,-rpath,'$$ORIGIN/../../../../node_modules/node-rdkafka/build/deps'"
      ]
    }
  ]
}
