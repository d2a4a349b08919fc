{
  # The kemu N-API addon (contract: src/native/index.ts). Built by `npm install` (node-gyp rebuild)
  # or `npx node-gyp rebuild --nodedir=/usr`. C++ exceptions stay off (node's default
  # -fno-exceptions); errors are thrown as JS exceptions, hence NAPI_DISABLE_CPP_EXCEPTIONS.
  "targets": [
    {
      "target_name": "kemu",
      "sources": ["native/kemu.cc", "native/sandbox.cc", "native/tun_io.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    },
    {
      # Bounded UDP generator for `npm run bench` (small-packet rate); not used by the daemon.
      "target_name": "udpblast",
      "type": "executable",
      "sources": ["native/tools/udpblast.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
